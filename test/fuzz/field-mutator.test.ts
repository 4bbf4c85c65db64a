import { describe, expect, it } from 'vitest';
import { fixFrameChecksums, fixPduDigests, frameFields, frameLayout, mutateOneField, pduHeaderFields, pduHeaderOffsets, readField } from '../../src/fuzz/field-mutator.js';
import { controllerStream, frameSeeds, SEED_HOST, SEED_TARGET } from '../../src/fuzz/emitter-seeds.js';
import { Rng } from '../../src/fuzz/rng.js';
import { buildTcpFrame, parseFrame } from '../../src/wire/frame.js';
import { verifyIpv4Checksum } from '../../src/wire/ipv4.js';
import { parsePdu, verifyDataDigest, verifyHeaderDigest } from '../../src/wire/nvme-tcp-pdu.js';
import { TCP_ACK, verifyTcpChecksum } from '../../src/wire/tcp.js';

function frame(payload: Buffer, vlan?: number): Buffer {
  return buildTcpFrame({
    srcMac: SEED_TARGET.mac,
    dstMac: SEED_HOST.mac,
    srcIp: SEED_TARGET.ip,
    dstIp: SEED_HOST.ip,
    srcPort: 4420,
    dstPort: 40000,
    seq: 0x1234_5678,
    ack: 9,
    flags: TCP_ACK,
    window: 1000,
    options: { tsVal: 1, tsEcr: 2 },
    payload,
    vlan,
  });
}

describe('field-aware mutation', () => {
  it('locates the IPv4 and TCP fields of a tagged and an untagged frame', () => {
    for (const vlan of [undefined, 7]) {
      const f = frame(Buffer.from('payload'), vlan);
      const fields = frameFields(f);
      const seq = fields.find((x) => x.name === 'tcp.seq')!;
      expect(readField(f, seq)).toBe(0x1234_5678);
      expect(readField(f, fields.find((x) => x.name === 'ip.total_len')!)).toBe(20 + 32 + 7);
      const lay = frameLayout(f);
      expect(f.subarray(lay.payloadStart, lay.payloadEnd).toString()).toBe('payload');
    }
  });

  it('never throws on garbage', () => {
    const rng = new Rng(1);
    for (let i = 0; i < 500; i++) {
      const junk = Buffer.alloc(rng.below(120));
      for (let k = 0; k < junk.length; k++) junk[k] = rng.below(256);
      if (junk.length > 13 && rng.chance(0.5)) junk.writeUInt16BE(0x0800, 12);
      frameFields(junk);
      fixFrameChecksums(junk);
      pduHeaderFields(junk, rng.below(junk.length + 1));
      pduHeaderOffsets(junk, true);
      fixPduDigests(junk, rng.below(junk.length + 1));
    }
  });

  it('repairs IPv4 and TCP checksums after a header field changed', () => {
    const rng = new Rng(2);
    for (const seed of frameSeeds()) {
      const f = Buffer.from(seed);
      const fr = parseFrame(f);
      if (fr.tcp === undefined) continue;
      mutateOneField(f, frameFields(f).filter((x) => x.name === 'tcp.seq' || x.name === 'tcp.window' || x.name === 'ip.ttl'), rng);
      fixFrameChecksums(f);
      const again = parseFrame(f);
      expect(verifyIpv4Checksum(f.subarray(14 + (fr.eth.vlan === undefined ? 0 : 4)))).toBe(true);
      expect(verifyTcpChecksum(again.ip!.src, again.ip!.dst, again.ip!.payload)).toBe(true);
    }
  });

  it('walks PDU boundaries and repairs HDGST and DDGST after a field changed', () => {
    const stream = controllerStream({ hdgst: true, ddgst: true, reads: 2 });
    const offs = pduHeaderOffsets(stream, true);
    expect(offs[0]).toBe(0);
    expect(offs.length).toBeGreaterThan(4);
    const p = offs[1]!;
    const b = Buffer.from(stream);
    const cccid = pduHeaderFields(b, p).find((f) => f.name === 'xfer.cccid')!;
    b.writeUInt16LE(readField(b, cccid) + 1, cccid.at);
    const broken = parsePdu(b.subarray(p));
    expect(verifyHeaderDigest(broken)).toBe('mismatch');
    b[p + broken.layout.dataOffset]! ^= 0xff;
    fixPduDigests(b, p);
    const fixed = parsePdu(b.subarray(p));
    expect(verifyHeaderDigest(fixed)).toBe('ok');
    expect(verifyDataDigest(fixed)).toBe('ok');
  });
});
