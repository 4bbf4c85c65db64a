/**
 * What the target puts on the wire decodes as NVMe/TCP in Wireshark: a
 * session (with and without digests) captured on lo by tcpdump, then
 * dissected by tshark — every PDU type of the session present, no
 * malformed packet, no expert error or warning, and every header and data
 * digest verified by Wireshark's own CRC32C.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa, execaSync } from 'execa';
import { describe, expect, it } from 'vitest';
import { findPatternMismatch } from '../../src/wire/block-pattern.js';
import { startTarget } from '../../src/target/listener.js';
import { associate, closeAssociation, NvmeIdCns } from '../support/target/pdu-client.js';

function have(cmd: string): boolean {
  return execaSync('sh', ['-c', `command -v ${cmd}`], { reject: false }).exitCode === 0;
}

const canCapture = process.getuid?.() === 0 && have('tcpdump') && have('tshark');

describe.skipIf(!canCapture)('capture of a target session', () => {
  it('decodes in tshark with ICReq, ICResp, CapsuleCmd, CapsuleResp, C2HData, R2T and H2CData, nothing malformed', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ddplab-capture-'));
    const pcap = join(dir, 'session.pcap');
    const seed = 13;
    const target = await startTarget({ host: '127.0.0.1', port: 0, sizeBytes: 16 * 1024 * 1024, seed, c2hSizeBytes: 8192 });
    const port = target.port;
    const tcpdump = execa('tcpdump', ['-i', 'lo', '-U', '-n', '-w', pcap, 'tcp', 'port', String(port)], { reject: false });
    try {
      await new Promise<void>((resolve, reject) => {
        let err = '';
        tcpdump.stderr!.on('data', (d: Buffer) => {
          err += d.toString();
          if (err.includes('listening on')) resolve();
        });
        tcpdump.once('exit', () => reject(new Error(`tcpdump exited: ${err}`)));
      });

      for (const digests of [false, true]) {
        const a = await associate(port, { hdgst: digests, ddgst: digests });
        expect((await a.admin.identify(NvmeIdCns.CTRL, 0)).status).toBe(0);
        const io = a.io[0]!;
        const r = await io.read(0, 63, 512);
        expect(findPatternMismatch(seed, 0, r.data!)).toBe(-1);
        expect((await io.write(100, Buffer.alloc(65536, 1), 512, false)).status).toBe(0);
        expect((await io.write(300, Buffer.alloc(4096, 2), 512, true)).status).toBe(0);
        expect((await io.flush()).status).toBe(0);
        closeAssociation(a);
      }
      await target.close();
    } finally {
      tcpdump.kill('SIGINT');
      await tcpdump;
    }

    try {
      const decode = ['-r', pcap, '-o', 'nvme-tcp.check_hdgst:TRUE', '-o', 'nvme-tcp.check_ddgst:TRUE', '-d', `tcp.port==${port},nvme-tcp`];
      const types = await execa('tshark', [...decode, '-Y', 'nvme-tcp', '-T', 'fields', '-e', 'nvme-tcp.type']);
      const seen = new Set(types.stdout.split(/[\n,]/).filter((s) => s !== ''));
      // ICReq 0, ICResp 1, CapsuleCmd 4, CapsuleResp 5, H2CData 6, C2HData 7, R2T 9.
      for (const t of ['0', '1', '4', '5', '6', '7', '9']) expect(seen.has(t), `PDU type ${t} in the capture`).toBe(true);

      // PI_WARN is 0x00600000: nothing malformed, no warning or error.
      const bad = await execa('tshark', [...decode, '-Y', '_ws.malformed || _ws.expert.severity >= 0x00600000', '-T', 'fields', '-e', 'frame.number']);
      expect(bad.stdout.trim()).toBe('');

      // Wireshark verified every digest of the second session (status 1 = good).
      const digests = await execa('tshark', [...decode, '-Y', 'nvme-tcp.hdgst', '-T', 'fields', '-e', 'nvme-tcp.hdgst.status', '-e', 'nvme-tcp.ddgst.status']);
      const statuses = digests.stdout.split(/[\n,\t]/).filter((s) => s !== '');
      expect(statuses.length).toBeGreaterThan(10);
      expect(statuses.every((s) => s === '1')).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
