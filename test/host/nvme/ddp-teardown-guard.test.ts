/**
 * Teardown as the series has it: the host completes a mapped read to the
 * application only at teardownDone, because until then the NIC may still
 * write its buffer. The model's audit (the device's
 * ddp-writes-after-completion) counts NIC writes into a buffer whose command
 * the host already completed, from the moment the host says so
 * (auditCompleted). The correct ULP says so only after teardownDone; the
 * deliberately wrong test-only mode `completeAtTeardown` says so while the
 * mapping is live. (With the engine as it is, a NIC that walks the stream in
 * order maps no PDU header to a CID being torn down, so a write after
 * completion needs a PDU already in progress: the counter stays 0 here.)
 */
import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../../../src/host/net/clock.js';
import { NvmeDdp } from '../../../src/host/nvme/ddp.js';
import { NvmeQueue } from '../../../src/host/nvme/queue.js';
import { NvmeTcpDdpDevice } from '../../../src/nicemu/ddp/offload.js';
import type { FlowKey } from '../../../src/nicemu/flow-table.js';
import { NicEmu } from '../../../src/nicemu/nic.js';
import { TCP_ACK, TCP_PSH } from '../../../src/wire/tcp.js';
import type { NvmeCqe } from '../../../src/wire/nvme-cqe.js';
import { PduType, emitPduBuffer } from '../../../src/wire/nvme-tcp-pdu.js';
import { TestTransport } from '../../support/host/scripted-transport.js';
import { HOST, PEER, peerFrame } from '../../support/host/tcp-peer.js';
import { c2hData, capsuleResp, pattern } from '../../support/nicemu/ddp-engine-rig.js';
import { SilentPort } from '../../support/nicemu/silent-port.js';

/** The device, recording when the host tells the audit a mapped read completed, and when teardownDone went out. */
class AuditedDevice extends NvmeTcpDdpDevice {
  readonly events: string[] = [];
  override auditCompleted(key: FlowKey, cid: number): void {
    this.events.push(`completed ${cid}`);
    super.auditCompleted(key, cid);
  }
}

const KEY: FlowKey = { remoteIp: PEER.ip, remotePort: PEER.port, localIp: HOST.ip, localPort: HOST.port };
const LEN = 32 * 1024;

/**
 * One offloaded queue behind a 'hardware' NIC whose teardowns stay pending
 * (the mapping live) until the test says; frames from the target go through
 * the NIC, its skbs to the queue.
 */
async function rig(completeAtTeardown: boolean) {
  const nic = new NicEmu(new SilentPort(), { mac: Buffer.from(HOST.mac) });
  const t = new TestTransport(5000);
  nic.addFlow({ key: KEY, deliver: (skb) => t.deliverFrags(skb.frags, skb.ddpCrcOk) });
  const dev = new AuditedDevice(nic, { profile: 'hardware', teardownLatencyPackets: 1000, teardownLatencyUs: Infinity, defer: (fn) => fn() });
  const ddp = new NvmeDdp(dev, { completeAtTeardown });
  const q = new NvmeQueue(t, { qid: 1, depth: 8, hdgst: false, ddgst: false, clock: new VirtualClock(), ddp });
  const p = q.connect();
  t.deliver(emitPduBuffer({ type: PduType.ICResp, pfv: 0, cpda: 0, hdgstEnable: false, ddgstEnable: false, maxh2cdata: 0x40_0000 }));
  await p;
  expect(ddp.attach(q, { key: KEY, socket: { readSeq: t.rcvNxt } })).toBeUndefined();
  const send = (payload: Buffer): void => nic.rxFrame(peerFrame({ seq: t.rcvNxt, ack: 1, flags: TCP_ACK | TCP_PSH, payload }), 0);
  return { dev, q, t, send };
}

describe('teardown: completion only at teardownDone, and the write-after-completion guard', () => {
  for (const wrong of [false, true]) {
    it(wrong ? 'completeAtTeardown completes while the NIC still holds the mapping, and tells the audit so' : 'the correct ULP waits for teardownDone: no completion, no audit, nothing written after', async () => {
      const { dev, q, send } = await rig(wrong);
      const buf = Buffer.alloc(LEN);
      let cqe: NvmeCqe | undefined;
      void q.submit((cid, dptr) => ({ kind: 'read', cid, nsid: 1, slba: 0, nlb: LEN / 512 - 1, dptr }), { dir: 'read', buf }).then(
        (c) => (cqe = c),
        () => undefined,
      );
      const data = pattern(LEN, 3);
      // A broken target: the first half of the data (placed), then the completion — the read fails
      // short, but it completes — then the second half, late, while the NIC's mapping is still live.
      const stream = Buffer.concat([c2hData(0, 0, data.subarray(0, LEN / 2)), capsuleResp(0)]);
      for (let off = 0; off < stream.length; off += 1448) send(stream.subarray(off, off + 1448));
      await Promise.resolve();
      expect(dev.getStats()['rx-nvme-tcp-bytes']).toBe(LEN / 2);
      expect(cqe !== undefined).toBe(wrong);
      const late = c2hData(0, LEN / 2, data.subarray(LEN / 2), { last: true });
      for (let off = 0; off < late.length; off += 1448) send(late.subarray(off, off + 1448));
      const after = dev.getStats()['ddp-writes-after-completion'];
      if (wrong) {
        // Completed to the application while the NIC's teardown is still pending: the audit hears of it now.
        expect(dev.events).toEqual(['completed 0']);
      } else {
        // The host never completed the read: the late PDU named a command still tearing down, a protocol error.
        expect(cqe).toBeUndefined();
        expect(dev.events).toEqual([]);
        expect(q.error?.code).toBe('PROTOCOL_ERROR');
      }
      // The engine maps no new PDU header to a CID being torn down, so the late data went unplaced either way.
      expect(after).toBe(0);
      expect(dev.getStats()['rx-nvme-tcp-bytes']).toBe(LEN / 2);
    });
  }
});
