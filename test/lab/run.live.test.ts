/**
 * `ddplab run` end to end on the live topology (root): target on kernel TCP
 * in one namespace, host (libpcap port → software NIC → userspace TCP →
 * NVMe/TCP host) in the other, two processes, every read verified.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BIN, ddplabNamespaces, liveRunIds, runJson } from '../support/lab/live-run-rig.js';

const newId = liveRunIds('r');

describe.each([
  { mtu: 1500, digest: 'none' },
  { mtu: 1500, digest: 'both' },
  { mtu: 9000, digest: 'none' },
  { mtu: 9000, digest: 'both' },
])('ddplab run randrw 256m, bs 4k..1m, iodepth 32, random order, interleaved C2H (MTU $mtu, digest $digest)', ({ mtu, digest }) => {
  it('verifies every read, sends no RST and never stalls on a zero window', async () => {
    const r = await runJson([
      '--id', newId(`${mtu === 9000 ? 'j' : 's'}${digest[0]}`),
      '--rw', 'randrw', '--bsrange', '4k-1m', '--iodepth', '32', '--size', '256m',
      '--order', 'random', '--interleave', '--c2h-size', '32k',
      '--digest', digest, '--mtu', String(mtu),
    ]);
    expect(r.error).toBeUndefined();
    expect(r.ok).toBe(true);
    expect(r.verify.mismatches).toBe(0);
    expect(r.verify.bytes).toBeGreaterThan(100 * 2 ** 20);
    expect(r.io.readBytes + r.io.writeBytes).toBeGreaterThanOrEqual(256 * 2 ** 20);
    expect(r.run.mtu).toBe(mtu);
    // The frames our host saw are wire-sized for the MTU (TSO/GRO off).
    expect(r.port.rxBytes / r.port.rxFrames).toBeLessThanOrEqual(mtu + 14);
    expect(r.tcp.rstsOut).toBe(0);
    expect(r.tcp.zeroWindowOurs).toBe(r.tcp.zeroWindowReopened);
    // Digests were really used (or really not): the host CRC'd what it sent and received.
    if (digest === 'both') expect(r.host.crcBytes).toBeGreaterThan(r.io.readBytes);
    else expect(r.host.crcBytes).toBe(0);
    // Without offload the host copies every C2HData payload byte.
    expect(r.host.copiedBytes).toBeGreaterThanOrEqual(r.io.readBytes);
    expect(r.latency.p99Us).toBeGreaterThan(0);
  });
});

describe('a run whose processes are killed', () => {
  for (const victim of ['tgt', 'host'] as const) {
    it(`ends with one clear error line and removes its namespaces when the ${victim === 'tgt' ? 'target' : 'host'} is SIGKILLed`, async () => {
      const id = newId(`k${victim[0]}`);
      const child = spawn(process.execPath, [BIN, 'run', '--id', id, '--rw', 'randread', '--bs', '64k', '--iodepth', '8', '--time', '60', '--size', '64g'], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
      // Wait until I/O flows (the first progress line), then kill every process in the namespace.
      const deadline = Date.now() + 30_000;
      while (!stderr.includes('progress') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      expect(stderr).toContain('progress');
      const pids = execFileSync('ip', ['netns', 'pids', `ddplab-${id}-${victim}`], { encoding: 'utf8' }).trim().split('\n').filter(Boolean);
      expect(pids.length).toBeGreaterThan(0);
      for (const p of pids) process.kill(Number(p), 'SIGKILL');
      const code = await exited;
      expect(code).not.toBe(0);
      const errorLines = stderr.split('\n').filter((l) => l.startsWith('ddplab:'));
      expect(errorLines.length).toBe(1);
      expect(errorLines[0]).toMatch(victim === 'tgt' ? /target process ended mid-run \(killed by SIGKILL\)/ : /host process ended without a report \(killed by SIGKILL\)/);
      expect(stderr).not.toMatch(/\n\s+at /); // no stack trace
      expect(ddplabNamespaces().filter((n) => n.includes(`-${id}-`))).toEqual([]);
    });
  }
});

describe('ddplab run --capture', () => {
  it('writes a pcap of host0 that tshark decodes as NVMe/TCP, with no malformed packet', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ddplab-run-cap-'));
    try {
      const file = join(dir, 'run.pcap');
      const r = await runJson(['--id', newId('cap'), '--rw', 'randrw', '--bs', '4k,64k', '--iodepth', '8', '--size', '4m', '--digest', 'both', '--capture', file]);
      expect(r.ok).toBe(true);
      const tshark = (filter: string, field: string): string[] =>
        execFileSync('tshark', ['-o', 'nvme-tcp.check_hdgst:TRUE', '-o', 'nvme-tcp.check_ddgst:TRUE', '-r', file, '-Y', filter, '-T', 'fields', '-e', field], {
          encoding: 'utf8',
          stdio: ['ignore', 'pipe', 'ignore'],
        })
          .split('\n')
          .filter(Boolean);
      const types = new Set(tshark('nvme-tcp', 'nvme-tcp.type').flatMap((l) => l.split(',')).map(Number));
      // ICReq, ICResp, CapsuleCmd, CapsuleResp, C2HData, and R2T + H2CData for the 64k writes (above the 16 KiB in-capsule size).
      for (const t of [0, 1, 4, 5, 6, 7, 9]) expect(types.has(t)).toBe(true);
      expect(tshark('_ws.malformed', 'frame.number')).toEqual([]);
      // Every digest the host and target computed checks out in Wireshark's eyes (1 = good).
      const hdgst = tshark('nvme-tcp.hdgst', 'nvme-tcp.hdgst.status').flatMap((l) => l.split(','));
      expect(hdgst.length).toBeGreaterThan(10);
      expect(hdgst.every((v) => v === '1')).toBe(true);
      const ddgst = tshark('nvme-tcp.ddgst', 'nvme-tcp.ddgst.status').flatMap((l) => l.split(','));
      expect(ddgst.length).toBeGreaterThan(10);
      expect(ddgst.every((v) => v === '1')).toBe(true);
      // Both directions are in the file: frames from the target and from our host.
      expect(new Set(tshark('tcp', 'ip.src')).size).toBe(2);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
