import { describe, expect, it } from 'vitest';
import {
  CmsgWriter,
  DMABUF_CMSG_BYTES,
  SCM_DEVMEM_DMABUF,
  SCM_DEVMEM_LINEAR,
  SOL_SOCKET,
  cmsgLen,
  cmsgSpace,
  cmsgs,
  decodeDmabufCmsg,
} from '../../../src/host/devmem/cmsg.js';
import { DevmemError } from '../../../src/host/devmem/socket.js';
import { DevmemLink } from '../../support/host/devmem-link-rig.js';
import { c2hData, icResp, pattern } from '../../support/nicemu/header-split-rig.js';

function send(link: DevmemLink, data: Buffer): void {
  link.peer.write([data]);
  link.runUntil(() => link.host.readableLength >= data.length && link.peer.bufferedBytes === 0, 10_000);
}

describe('devmem cmsg bytes (64-bit Linux layout)', () => {
  it('sizes: dmabuf_cmsg is 24 bytes, CMSG_LEN and CMSG_SPACE of it 40', () => {
    expect(DMABUF_CMSG_BYTES).toBe(24);
    expect(cmsgLen(24)).toBe(40);
    expect(cmsgSpace(24)).toBe(40);
    expect(cmsgSpace(20)).toBe(40);
    expect(cmsgLen(20)).toBe(36);
  });

  it('writes whole messages only: 39 bytes hold none, 79 one, 80 two; the iterator reads back each field', () => {
    expect(new CmsgWriter(39).put(SCM_DEVMEM_DMABUF, { fragOffset: 1, fragSize: 2, fragToken: 3, dmabufId: 4, flags: 0 })).toBe(false);
    const w = new CmsgWriter(79);
    expect(w.put(SCM_DEVMEM_DMABUF, { fragOffset: 2 ** 40 + 4096, fragSize: 1448, fragToken: 7, dmabufId: 3, flags: 0 })).toBe(true);
    expect(w.put(SCM_DEVMEM_LINEAR, { fragOffset: 0, fragSize: 10, fragToken: 0, dmabufId: 0, flags: 0 })).toBe(false);
    expect(w.bytes().length).toBe(40);
    const raw = w.bytes();
    // The header as a C consumer sees it: cmsg_len (u64), cmsg_level, cmsg_type.
    expect(raw.readBigUInt64LE(0)).toBe(40n);
    expect(raw.readInt32LE(8)).toBe(SOL_SOCKET);
    expect(raw.readInt32LE(12)).toBe(SCM_DEVMEM_DMABUF);
    expect(raw.readBigUInt64LE(16)).toBe(BigInt(2 ** 40 + 4096));
    expect(raw.readUInt32LE(24)).toBe(1448);
    expect(raw.readUInt32LE(28)).toBe(7);
    expect(raw.readUInt32LE(32)).toBe(3);
    const w2 = new CmsgWriter(80);
    w2.put(SCM_DEVMEM_LINEAR, { fragOffset: 0, fragSize: 10, fragToken: 0, dmabufId: 0, flags: 0 });
    w2.put(SCM_DEVMEM_DMABUF, { fragOffset: 8192, fragSize: 100, fragToken: 1, dmabufId: 9, flags: 0 });
    const got = [...cmsgs(w2.bytes())].map((c) => ({ type: c.type, ...decodeDmabufCmsg(c.data)! }));
    expect(got).toEqual([
      { type: SCM_DEVMEM_LINEAR, fragOffset: 0, fragSize: 10, fragToken: 0, dmabufId: 0, flags: 0 },
      { type: SCM_DEVMEM_DMABUF, fragOffset: 8192, fragSize: 100, fragToken: 1, dmabufId: 9, flags: 0 },
    ]);
    // A header whose length runs past the buffer ends the walk.
    const bad = Buffer.from(w2.bytes());
    bad.writeBigUInt64LE(1000n, 40);
    expect([...cmsgs(bad)].length).toBe(1);
  });

  it('recvmsg fills msg_control as the kernel does: a consumer parsing the bytes alone gets the stream back', () => {
    const link = new DevmemLink({ mode: 'tcp' });
    const data = pattern(20_000, 4);
    send(link, data);
    const view = link.binding.dmabuf.deviceView();
    const parts: Buffer[] = [];
    let calls = 0;
    while (link.host.readableLength > 0) {
      // Room for three messages and a half.
      const r = link.devmem!.recvmsg({ devmem: true, controlBytes: 140 });
      calls++;
      expect(r.control.length).toBe(40 * r.descriptors.length);
      expect(r.descriptors.length).toBeLessThanOrEqual(3);
      let n = 0;
      for (const c of cmsgs(r.control)) {
        expect(c.level).toBe(SOL_SOCKET);
        const d = decodeDmabufCmsg(c.data)!;
        expect(c.type).toBe(SCM_DEVMEM_DMABUF);
        expect(d.dmabufId).toBe(link.binding.id);
        parts.push(view.read(d.fragOffset, d.fragSize));
        n += d.fragSize;
      }
      expect(n).toBe(r.len);
    }
    expect(calls).toBeGreaterThan(1);
    expect(Buffer.concat(parts).equals(data)).toBe(true);
  });

  it('ETOOSMALL below CMSG_LEN(24) = 40 bytes, nothing consumed; 40 bytes deliver one descriptor', () => {
    const link = new DevmemLink({ mode: 'tcp' });
    send(link, pattern(6000));
    let err: unknown;
    try {
      link.devmem!.recvmsg({ devmem: true, controlBytes: 39 });
    } catch (e) {
      err = e;
    }
    expect(err instanceof DevmemError && err.code).toBe('ETOOSMALL');
    expect(link.host.readableLength).toBe(6000);
    expect(link.stats.tokensIssued).toBe(0);
    const r = link.devmem!.recvmsg({ devmem: true, controlBytes: 40 });
    expect(r.descriptors.length).toBe(1);
    expect(r.control.length).toBe(40);
    expect(link.host.readableLength).toBe(6000 - r.len);
  });

  it('the nvme split: SCM_DEVMEM_LINEAR carries the header bytes copied into the buffer, SCM_DEVMEM_DMABUF the data', () => {
    const link = new DevmemLink({ mode: 'nvme' });
    const stream = Buffer.concat([icResp(), c2hData(1, 0, pattern(6000, 2), { last: true })]);
    send(link, stream);
    let linearBytes = 0;
    let copied = 0;
    let dmabufBytes = 0;
    while (link.host.readableLength > 0) {
      const r = link.devmem!.recvmsg({ devmem: true, controlBytes: 4096 });
      copied += r.bytes.length;
      for (const c of cmsgs(r.control)) {
        const d = decodeDmabufCmsg(c.data)!;
        if (c.type === SCM_DEVMEM_LINEAR) {
          expect(d.fragToken).toBe(0);
          linearBytes += d.fragSize;
        } else dmabufBytes += d.fragSize;
      }
    }
    expect(dmabufBytes).toBe(6000);
    expect(linearBytes).toBeGreaterThan(0);
    // Every LINEAR message stands for bytes recvmsg copied into the caller's buffer (ordinary data has no cmsg).
    expect(linearBytes).toBeLessThanOrEqual(copied);
    expect(linearBytes).toBe(link.stats.linearBytes);
  });
});
