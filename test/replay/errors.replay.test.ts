/**
 * What `ddplab replay` says about files it cannot replay: one line each,
 * naming the problem and the way out — a file that is not a capture, one
 * shorter than its own header, a capture that is not Ethernet, a capture
 * without NVMe/TCP — and a capture cut short, which replays up to the cut.
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { UserError } from '../../src/cli/user-error.js';
import { replayCapture } from '../../src/replay/replay.js';
import { synthesizeSession } from '../../src/replay/synthetic-capture.js';
import { buildArpFrame, buildTcpFrame } from '../../src/wire/frame.js';
import { ARP_REQUEST } from '../../src/wire/arp.js';
import { parseMac } from '../../src/wire/ethernet.js';
import { buildPcapFile, LINKTYPE_LINUX_SLL, PCAP_FILE_HEADER_LEN } from '../../src/wire/pcap.js';
import { TCP_ACK, TCP_SYN } from '../../src/wire/tcp.js';
import { tempDir } from '../support/replay/replay-rig.js';

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'ddplab.js');
const tmp = tempDir();
afterAll(() => tmp.remove());

function file(name: string, bytes: Buffer): string {
  const p = join(tmp.dir, name);
  writeFileSync(p, bytes);
  return p;
}

async function replayError(path: string, port?: number): Promise<UserError> {
  try {
    await replayCapture({ path, ...(port !== undefined ? { port } : {}) });
  } catch (e) {
    expect(e).toBeInstanceOf(UserError);
    return e as UserError;
  }
  throw new Error(`${path} replayed without error`);
}

/** Runs the CLI; returns its exit code and stderr. */
function cli(args: string[]): { status: number; stderr: string } {
  try {
    execFileSync(process.execPath, [BIN, 'replay', ...args], { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
    return { status: 0, stderr: '' };
  } catch (e) {
    const x = e as { status: number; stderr: string };
    return { status: x.status, stderr: x.stderr };
  }
}

/** A pcapng file: one Section Header Block and nothing else. */
function pcapng(): Buffer {
  const b = Buffer.alloc(28);
  b.writeUInt32LE(0x0a0d0d0a, 0);
  b.writeUInt32LE(28, 4);
  b.writeUInt32LE(0x1a2b3c4d, 8);
  b.writeUInt16LE(1, 12);
  b.writeUInt16LE(0, 14);
  b.writeBigInt64LE(-1n, 16);
  b.writeUInt32LE(28, 24);
  return b;
}

/** A TCP capture with nothing on port 4420: ssh and iperf3, plus an ARP request. */
function otherTraffic(): Buffer {
  const a = parseMac('02:00:00:00:00:0a');
  const b = parseMac('02:00:00:00:00:0b');
  const frames = [];
  let ts = 1_700_000_000_000;
  for (const [sp, dp] of [
    [50000, 22],
    [22, 50000],
    [50001, 5201],
    [5201, 50001],
    [50001, 5201],
  ] as const) {
    frames.push({
      data: buildTcpFrame({ srcMac: a, dstMac: b, srcIp: 0xc0000201, dstIp: 0xc0000202, srcPort: sp, dstPort: dp, seq: 1, ack: 1, flags: TCP_ACK | TCP_SYN, window: 1000 }),
      tsMs: (ts += 1),
    });
  }
  frames.push({ data: buildArpFrame({ operation: ARP_REQUEST, senderMac: a, senderIp: 0xc0000201, targetIp: 0xc0000202 }), tsMs: (ts += 1) });
  return buildPcapFile(frames);
}

describe('replay refuses what it cannot read, in one line', () => {
  it('a file that is not a capture: names its first bytes; a pcapng file is read', async () => {
    const p = file('trace.txt', Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
    const e = await replayError(p);
    expect(e.code).toBe('PCAP_FORMAT');
    expect(e.message).toBe(`${p} is not a capture (magic 0x47455420); ddplab reads pcap and pcapng files`);
    // A pcapng file with a section header and nothing else is a capture without frames.
    const ng = await replayError(file('trace.pcapng', pcapng()));
    expect(ng.code).toBe('NO_NVME_TCP');
    expect(ng.message).toContain('in 0 frames');
  });

  it('a capture cut short: replays up to the cut and says what was cut; a file shorter than its header is refused', async () => {
    const s = synthesizeSession({ reads: 4 });
    const whole = buildPcapFile(s.frames);
    const full = await replayCapture({ path: file('whole.pcap', whole) });
    expect(full.truncated).toBeNull();
    const p = file('cut.pcap', whole.subarray(0, whole.length - 20));
    const r = await replayCapture({ path: p });
    const last = s.frames[s.frames.length - 1]!.data.length;
    expect(r.truncated).toEqual({ atByte: whole.length - 16 - last, bytes: 16 + last - 20, records: s.frames.length - 1, what: 'pcap record' });
    expect(r.frames.total).toBe(s.frames.length - 1);
    expect(r.notes.filter((n) => n.includes('is cut short'))).toHaveLength(1);
    // The last frame is the host's final ACK or the like: every read is the same as in the whole file.
    expect(r.reads.map((x) => x.sha256)).toEqual(full.reads.map((x) => x.sha256));
    // Cut before any NVMe/TCP: the refusal says the file is cut short.
    const early = await replayError(file('early.pcap', whole.subarray(0, 24 + 16 + 5)));
    expect(early.code).toBe('NO_NVME_TCP');
    expect(early.message).toContain('in 0 frames (the file is cut short after them, 21 bytes into a pcap record);');
    // A file shorter than its own header.
    const e2 = await replayError(file('stub.pcap', whole.subarray(0, 10)));
    expect(e2.code).toBe('PCAP_TRUNCATED');
    expect(e2.message).toContain('10 bytes, shorter than the 24-byte pcap file header');
  });

  it('a capture that is not Ethernet: names its link type', async () => {
    const b = buildPcapFile([{ data: Buffer.alloc(60), tsMs: 1 }]);
    b.writeUInt32LE(LINKTYPE_LINUX_SLL, PCAP_FILE_HEADER_LEN - 4);
    const e = await replayError(file('any.pcap', b));
    expect(e.code).toBe('PCAP_LINKTYPE');
    expect(e.message).toContain('link type 113 (LINUX_SLL, Linux cooked capture as from "tcpdump -i any")');
    expect(e.message).toContain('not Ethernet');
  });

  it('a capture without NVMe/TCP: says which ports it saw, and --port finds a target elsewhere', async () => {
    const p = file('other.pcap', otherTraffic());
    const e = await replayError(p);
    expect(e.code).toBe('NO_NVME_TCP');
    expect(e.message).toBe(`${p}: no NVMe/TCP on TCP port 4420 in 6 frames; TCP ports seen: 5201, 50001, 22, 50000 — if the target listens on one of them, use --port N`);
    const empty = await replayError(file('empty.pcap', buildPcapFile([])));
    expect(empty.message).toContain('no NVMe/TCP on TCP port 4420 in 0 frames; no TCP at all');
    // The same session on port 4421 needs --port.
    const s = synthesizeSession({ reads: 3, targetPort: 4421 });
    const q = file('port4421.pcap', buildPcapFile(s.frames));
    expect((await replayError(q)).code).toBe('NO_NVME_TCP');
    const r = await replayCapture({ path: q, port: 4421 });
    expect(r.reads.map((x) => x.sha256)).toEqual(s.reads.map((x) => x.sha256));
  });

  it('the CLI prints each as one line on stderr and exits 1', () => {
    const cases: [string, string][] = [
      [file('cli.txt', Buffer.from('not a capture at all')), 'cli.txt is not a capture (magic 0x6e6f7420)'],
      [file('cli-empty.pcap', Buffer.alloc(0)), 'cli-empty.pcap is empty'],
      [tmp.dir, 'is a directory, not a capture'],
      [file('cli-other.pcap', otherTraffic()), 'no NVMe/TCP on TCP port 4420'],
      [join(tmp.dir, 'missing.pcap'), 'no such file'],
    ];
    for (const [path, what] of cases) {
      const r = cli([path]);
      expect(r.status, path).toBe(1);
      const lines = r.stderr.trimEnd().split('\n');
      expect(lines, r.stderr).toHaveLength(1);
      expect(lines[0]).toMatch(/^ddplab: /);
      expect(lines[0]).toContain(what);
    }
    expect(cli(['x.pcap', '--offload', 'fast']).stderr.trim()).toBe("ddplab: --offload: 'fast' is not one of none, ddp, ddp-crc");
  });
});
