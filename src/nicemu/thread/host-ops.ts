/**
 * Host → NIC ops as numbers: one Float64Array per message (transferred), and
 * the shared memories `register` hands over and the arenas `arenaFree`
 * transfers back beside it, instead of a cloned
 * list of objects — the host thread posts one message per turn with the
 * turn's ACKs and a read's setup, teardown and audit, and cloning objects
 * cost it more than the copy DDP saves it.
 *
 *   SEND        off, len
 *   ADD_FLOW    flow, remoteIp, remotePort, localIp, localPort
 *   REMOVE_FLOW flow
 *   REGISTER    region, index into the message's memories
 *   SK_ADD      flow, nextPduSeq, heldEndSeq (-1: none), pfv, cpda, hdgst, ddgst, queueSize
 *   SK_DEL      flow
 *   SETUP       flow, cid, entries, then (region, offset, length) per entry
 *   TEARDOWN    flow, cid
 *   RESYNC      flow, seq
 *   AUDIT       flow, cid
 *   SET_CAPS    nvme-tcp, nvme-tcp-ddgst-rx (1 on, 0 off, -1 unchanged)
 *   ARENA_FREE  arena, index into the message's arenas
 *   CLOSE
 */
import type { HostOp } from './protocol.js';

const SEND = 1;
const ADD_FLOW = 2;
const REMOVE_FLOW = 3;
const REGISTER = 4;
const SK_ADD = 5;
const SK_DEL = 6;
const SETUP = 7;
const TEARDOWN = 8;
const RESYNC = 9;
const AUDIT = 10;
const SET_CAPS = 11;
const CLOSE = 12;
const ARENA_FREE = 13;

const tri = (b: boolean | undefined): number => (b === undefined ? -1 : b ? 1 : 0);
const untri = (n: number): boolean | undefined => (n < 0 ? undefined : n === 1);

/** Appends `op` to `out`; a `register` op's memory goes to `memories`, an `arenaFree` op's to `arenas`. */
export function encodeHostOp(op: HostOp, out: number[], memories: SharedArrayBuffer[], arenas: ArrayBuffer[] = []): void {
  switch (op.op) {
    case 'send':
      out.push(SEND, op.off, op.len);
      return;
    case 'addFlow':
      out.push(ADD_FLOW, op.flow, op.key.remoteIp, op.key.remotePort, op.key.localIp, op.key.localPort);
      return;
    case 'removeFlow':
      out.push(REMOVE_FLOW, op.flow);
      return;
    case 'register':
      out.push(REGISTER, op.region, memories.length);
      memories.push(op.memory);
      return;
    case 'skAdd': {
      const c = op.config;
      out.push(SK_ADD, op.flow, op.nextPduSeq, op.heldEndSeq ?? -1, c.pfv, c.cpda, c.hdgst ? 1 : 0, c.ddgst ? 1 : 0, c.queueSize);
      return;
    }
    case 'skDel':
      out.push(SK_DEL, op.flow);
      return;
    case 'setup': {
      out.push(SETUP, op.flow, op.cid, op.sgl.length / 3);
      const s = op.sgl;
      for (let i = 0; i < s.length; i++) out.push(s[i]!);
      return;
    }
    case 'teardown':
      out.push(TEARDOWN, op.flow, op.cid);
      return;
    case 'resync':
      out.push(RESYNC, op.flow, op.seq);
      return;
    case 'audit':
      out.push(AUDIT, op.flow, op.cid);
      return;
    case 'setCaps':
      out.push(SET_CAPS, tri(op.caps['nvme-tcp']), tri(op.caps['nvme-tcp-ddgst-rx']));
      return;
    case 'arenaFree':
      out.push(ARENA_FREE, op.arena, arenas.length);
      arenas.push(op.memory);
      return;
    case 'close':
      out.push(CLOSE);
      return;
  }
}

/** The ops of one message, in order. Throws on a malformed stream (a bug, not input). */
export function decodeHostOps(n: Float64Array, memories: readonly SharedArrayBuffer[], arenas: readonly ArrayBuffer[] = []): HostOp[] {
  const ops: HostOp[] = [];
  let i = 0;
  while (i < n.length) {
    const code = n[i]!;
    switch (code) {
      case SEND:
        ops.push({ op: 'send', off: n[i + 1]!, len: n[i + 2]! });
        i += 3;
        break;
      case ADD_FLOW:
        ops.push({ op: 'addFlow', flow: n[i + 1]!, key: { remoteIp: n[i + 2]!, remotePort: n[i + 3]!, localIp: n[i + 4]!, localPort: n[i + 5]! } });
        i += 6;
        break;
      case REMOVE_FLOW:
        ops.push({ op: 'removeFlow', flow: n[i + 1]! });
        i += 2;
        break;
      case REGISTER:
        ops.push({ op: 'register', region: n[i + 1]!, memory: memories[n[i + 2]!]! });
        i += 3;
        break;
      case SK_ADD: {
        const held = n[i + 3]!;
        ops.push({
          op: 'skAdd',
          flow: n[i + 1]!,
          nextPduSeq: n[i + 2]!,
          ...(held >= 0 ? { heldEndSeq: held } : {}),
          config: { pfv: n[i + 4]!, cpda: n[i + 5]!, hdgst: n[i + 6] === 1, ddgst: n[i + 7] === 1, queueSize: n[i + 8]! },
        });
        i += 9;
        break;
      }
      case SK_DEL:
        ops.push({ op: 'skDel', flow: n[i + 1]! });
        i += 2;
        break;
      case SETUP: {
        const entries = n[i + 3]!;
        ops.push({ op: 'setup', flow: n[i + 1]!, cid: n[i + 2]!, sgl: Array.from(n.subarray(i + 4, i + 4 + entries * 3)) });
        i += 4 + entries * 3;
        break;
      }
      case TEARDOWN:
        ops.push({ op: 'teardown', flow: n[i + 1]!, cid: n[i + 2]! });
        i += 3;
        break;
      case RESYNC:
        ops.push({ op: 'resync', flow: n[i + 1]!, seq: n[i + 2]! });
        i += 3;
        break;
      case AUDIT:
        ops.push({ op: 'audit', flow: n[i + 1]!, cid: n[i + 2]! });
        i += 3;
        break;
      case SET_CAPS: {
        const caps: { 'nvme-tcp'?: boolean; 'nvme-tcp-ddgst-rx'?: boolean } = {};
        const a = untri(n[i + 1]!);
        const b = untri(n[i + 2]!);
        if (a !== undefined) caps['nvme-tcp'] = a;
        if (b !== undefined) caps['nvme-tcp-ddgst-rx'] = b;
        ops.push({ op: 'setCaps', caps });
        i += 3;
        break;
      }
      case ARENA_FREE:
        ops.push({ op: 'arenaFree', arena: n[i + 1]!, memory: arenas[n[i + 2]!]! });
        i += 3;
        break;
      case CLOSE:
        ops.push({ op: 'close' });
        i += 1;
        break;
      default:
        throw new Error(`NIC thread: unknown host op ${code} at ${i}`);
    }
  }
  return ops;
}
