/**
 * External-target mode, live (root, namespaces this file makes itself — not
 * the built-in topology): a Linux bridge in one namespace joins a target
 * namespace (kernel address 192.0.2.1, `ddplab target --seed`) and an
 * initiator namespace whose interface has no kernel address and ARP off,
 * where `ddplab run --target` runs the NIC emulator and host stack as it
 * would on any interface.
 *
 *   ddplab-<id>-target      ddplab-<id>-bridge           ddplab-<id>-initiator
 *   eth0 192.0.2.1/24 ◄──► brt ─ br0 ─ brh ◄──► ext0 (no address, arp off)
 *        192.0.2.129/32 (answers ARP as the "gateway" of a host on 192.0.2.128/25)
 *
 * Checks: pattern, file and readback verification with offload none and
 * ddp-crc, 100% placement of 128 KiB reads, several queues with digests,
 * `ddplab pattern` bytes equal to what the host read, a target reached
 * through a gateway, one-line errors. The
 * namespaces are named so that `ddplab down --all` never takes them for a
 * topology, and are removed after the file and on every exit path.
 */
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { copyFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readReadHashes } from '../../src/replay/live-read-hashes.js';
import type { ExternalRunReport } from '../../src/lab/run-external.js';
import { BIN, ddplabNamespaces } from '../support/lab/live-run-rig.js';
import { tempDir } from '../support/replay/replay-rig.js';

const ID = `e${process.pid % 100000}`;
const BR = `ddplab-${ID}-bridge`;
const TGT = `ddplab-${ID}-target`;
const INI = `ddplab-${ID}-initiator`;
const SEED = 4242;
const NQN = 'nqn.2026-11.io.ddplab:target';
const tmp = tempDir();

/**
 * The bridge and its two legs. Segmentation offloads and tx checksumming
 * off on the target's leg so ext0 sees wire-sized frames with full
 * checksums; one receive CPU on each hop toward the host (RPS), so that
 * veth backlogs on two CPUs cannot reorder a flow (netns/up.sh does the same
 * for host0).
 */
const UP = `
set -e
for ns in ${BR} ${TGT} ${INI}; do
  ip netns add $ns
  ip netns exec $ns sysctl -q -w net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
  ip -n $ns link set lo up
done
ip -n ${BR} link add br0 type bridge
ip -n ${BR} link add brt type veth peer name eth0 netns ${TGT}
ip -n ${BR} link add brh type veth peer name ext0 netns ${INI}
ip -n ${BR} link set brt master br0
ip -n ${BR} link set brh master br0
ip -n ${TGT} addr add 192.0.2.1/24 dev eth0
ip -n ${TGT} addr add 192.0.2.129/32 dev eth0
ip -n ${INI} link set ext0 arp off promisc on
ip netns exec ${TGT} ethtool -K eth0 tx off tso off gso off gro off >/dev/null
ip netns exec ${INI} ethtool -K ext0 tso off gso off gro off >/dev/null
ip netns exec ${BR} sh -c 'echo 1 > /sys/class/net/brt/queues/rx-0/rps_cpus'
ip netns exec ${INI} sh -c 'echo 1 > /sys/class/net/ext0/queues/rx-0/rps_cpus'
for l in br0 brt brh; do ip -n ${BR} link set $l up; done
ip -n ${TGT} link set eth0 up
ip -n ${INI} link set ext0 up
`;

let target: ResultPromise | undefined;
let removed = false;

function ours(): string[] {
  return ddplabNamespaces().filter((n) => n.startsWith(`ddplab-${ID}-`));
}

/** Stops the target we started (by its pid) and removes our namespaces; safe to call twice and from 'exit'. */
function teardown(): void {
  if (removed) return;
  removed = true;
  if (target?.pid !== undefined && target.exitCode === null) {
    try {
      process.kill(target.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  for (const ns of [INI, TGT, BR]) {
    try {
      execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
    } catch {
      // not there (setup failed before it)
    }
  }
}
process.on('exit', teardown);

beforeAll(async () => {
  try {
    await execa('bash', ['-c', UP]);
    target = execa('ip', ['netns', 'exec', TGT, process.execPath, BIN, 'target', '--listen', '192.0.2.1:4420', '--seed', String(SEED), '--size', '256m', '--quiet'], {
      reject: false,
      buffer: false,
    });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('target did not report listening within 20 s')), 20_000);
      target!.stdout!.on('data', (d: Buffer) => {
        if (d.toString().includes('listening on')) {
          clearTimeout(timer);
          resolve();
        }
      });
      void target!.then((r) => reject(new Error(`target ended before listening: ${String(r.stderr ?? r.exitCode)}`)));
    });
  } catch (e) {
    teardown();
    throw e;
  }
});

afterAll(() => {
  try {
    teardown();
  } finally {
    tmp.remove();
    process.off('exit', teardown);
  }
  expect(ours()).toEqual([]);
});

const HOST = ['--iface', 'ext0', '--host-ip', '192.0.2.2/24'];

/** `ddplab run --target ... --json` inside the initiator namespace: the report. */
async function runExternal(args: readonly string[], opts: { target?: string; host?: readonly string[] } = {}): Promise<ExternalRunReport> {
  const argv = ['run', '--json', '--target', opts.target ?? '192.0.2.1:4420', '--nqn', NQN, ...(opts.host ?? HOST), ...args];
  const r = await execa('ip', ['netns', 'exec', INI, process.execPath, BIN, ...argv], {
    reject: false,
    timeout: 60_000,
  });
  const line = r.stdout.split('\n').find((l) => l.startsWith('{'));
  if (line === undefined) throw new Error(`no JSON report (exit ${String(r.exitCode)}): ${r.stderr.slice(-400)}`);
  return JSON.parse(line) as ExternalRunReport;
}

/** The same without --json, expected to fail: exit code, stdout, stderr. */
async function runExternalFailing(targetAddr: string, args: readonly string[]): Promise<{ exitCode: number | undefined; stdout: string; stderr: string }> {
  const r = await execa('ip', ['netns', 'exec', INI, process.execPath, BIN, 'run', '--target', targetAddr, ...HOST, ...args], { reject: false, timeout: 60_000 });
  return { exitCode: r.exitCode, stdout: r.stdout, stderr: r.stderr };
}

describe('ddplab run --target against a ddplab target across a bridge', () => {
  // Until the readback tests, the namespace holds only the pattern: every run before them only reads.
  it('reads exactly the bytes `ddplab pattern` gives for the same range', async () => {
    const hashes = join(tmp.dir, 'reads.json');
    const r = await runExternal(['--verify', `pattern:${SEED}`, '--offload', 'ddp-crc', '--rw', 'read', '--bs', '128k', '--size', '1m', '--iodepth', '4', '--hash-reads', hashes]);
    expect(r.ok, r.error).toBe(true);
    expect(r.verify).toEqual({ bytes: 1 << 20, mismatches: 0 });
    const reads = readReadHashes(hashes);
    expect(reads.map((x) => x.slba * 512).sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7].map((i) => i * 128 * 1024));
    const p = await execa(process.execPath, [BIN, 'pattern', '--seed', String(SEED), '--offset', '0', '--length', '1m', '--lba-size', '512'], { encoding: 'buffer' });
    const expected = Buffer.from(p.stdout);
    expect(expected.length).toBe(1 << 20);
    for (const read of reads) {
      const slice = expected.subarray(read.slba * 512, read.slba * 512 + read.lenBytes);
      expect(createHash('sha256').update(slice).digest('hex'), `read at LBA ${read.slba}`).toBe(read.sha256);
    }
  });

  it.each([
    { offload: 'none', name: 'randread 4k-128k', args: ['--rw', 'randread', '--bsrange', '4k-128k', '--size', '16m', '--iodepth', '16'] },
    { offload: 'ddp-crc', name: 'read 128k, data digest', args: ['--rw', 'read', '--bs', '128k', '--size', '32m', '--iodepth', '32', '--digest', 'data'] },
    {
      offload: 'ddp-crc',
      name: '3 I/O queues of 64, both digests',
      args: ['--rw', 'randread', '--bs', '128k', '--size', '16m', '--iodepth', '8', '--queues', '3', '--digest', 'both', '--queue-depth', '64'],
    },
  ])('--verify pattern:SEED, offload $offload: $name', async ({ offload, args }) => {
    const r = await runExternal(['--verify', `pattern:${SEED}`, '--offload', offload, ...args]);
    expect(r.ok, r.error).toBe(true);
    expect(r.verify.mismatches).toBe(0);
    expect(r.verify.bytes).toBe(r.io.readBytes);
    expect(r.verify.bytes).toBeGreaterThan(0);
    expect(r.io.writes).toBe(0);
    expect(r.external).toMatchObject({ target: '192.0.2.1:4420', iface: 'ext0', hostIp: '192.0.2.2/24', nextHop: '192.0.2.1', verify: `pattern:${SEED}` });
    expect(r.target).toBeUndefined();
    expect(r.targetTcp).toBeUndefined();
    if (offload === 'ddp-crc') {
      // Every read is 128 KiB: above the DDP threshold, each placed whole; the NIC checked every data digest.
      expect(r.ddp.placementPct).toBe(100);
      expect(r.ddp.hostCrcDataBytes).toBe(0);
      expect(r.nic['rx-nvme-tcp-crc-ok']).toBe(r.io.reads);
    }
  });

  it('reaches a target off its subnet through --gateway (ARP asks for the gateway, not the target)', async () => {
    const r = await runExternal(['--verify', `pattern:${SEED}`, '--rw', 'randread', '--bs', '64k', '--size', '2m'], {
      host: ['--iface', 'ext0', '--host-ip', '192.0.2.130/25', '--gateway', '192.0.2.129'],
    });
    expect(r.ok, r.error).toBe(true);
    expect(r.verify.bytes).toBe(2 << 20);
    expect(r.external).toMatchObject({ hostIp: '192.0.2.130/25', gateway: '192.0.2.129', nextHop: '192.0.2.129' });
  });

  // Readback writes [0, 8 MiB): from here on, the pattern no longer holds there.
  it.each(['none', 'ddp-crc'])('--verify readback with writes, offload %s: every read checks bytes the run wrote', async (offload) => {
    const r = await runExternal(['--verify', 'readback', '--offload', offload, '--rw', 'randrw', '--bsrange', '4k-128k', '--size', '8m', '--iodepth', '16', '--seed', '5']);
    expect(r.ok, r.error).toBe(true);
    expect(r.verify.mismatches).toBe(0);
    expect(r.io.writes).toBeGreaterThan(0);
    expect(r.io.reads).toBeGreaterThan(0);
    expect(r.workload?.prefill?.writeBytes).toBe(8 << 20);
    expect(r.workload?.verify.unverifiableBytes).toBe(0);
    expect(r.verify.bytes).toBe(r.io.readBytes);
  });

  it('--verify file:PATH checks a target serving a known image (reads against the file, writes against what was written)', async () => {
    const image = join(tmp.dir, 'image.bin');
    const served = join(tmp.dir, 'served.bin');
    const bytes = Buffer.alloc(16 << 20);
    for (let i = 0; i < bytes.length; i += 4) bytes.writeUInt32LE(Math.imul(i + 1, 0x9e3779b1) >>> 0, i);
    writeFileSync(image, bytes);
    // The target writes into its own copy; the host compares with the original.
    copyFileSync(image, served);
    const fileTarget = execa('ip', ['netns', 'exec', TGT, process.execPath, BIN, 'target', '--listen', '192.0.2.1:4421', '--file', served, '--size', '16m', '--quiet'], {
      reject: false,
      buffer: false,
    });
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('file target did not report listening within 20 s')), 20_000);
        fileTarget.stdout!.on('data', (d: Buffer) => {
          if (d.toString().includes('listening on')) {
            clearTimeout(timer);
            resolve();
          }
        });
      });
      const r = await runExternal(['--verify', `file:${image}`, '--offload', 'ddp-crc', '--rw', 'randrw', '--bsrange', '4k-128k', '--size', '8m', '--iodepth', '8'], {
        target: '192.0.2.1:4421',
      });
      expect(r.ok, r.error).toBe(true);
      expect(r.io.writes).toBeGreaterThan(0);
      expect(r.verify).toEqual({ bytes: r.io.readBytes, mismatches: 0 });
      expect(r.workload?.verify.unverifiableBytes).toBe(0);
      const short = join(tmp.dir, 'short.bin');
      writeFileSync(short, bytes.subarray(0, 1 << 20));
      const bad = await runExternalFailing('192.0.2.1:4421', ['--nqn', NQN, '--verify', `file:${short}`]);
      expect(bad.exitCode).toBe(1);
      expect(bad.stderr.trim()).toBe(`ddplab: file:${short} is 1048576 bytes, shorter than the namespace (16777216 bytes)`);
    } finally {
      fileTarget.kill('SIGKILL');
      await fileTarget;
    }
  });

  it('a wrong NQN fails in one line with the Connect status, nothing on stdout', async () => {
    const r = await runExternalFailing('192.0.2.1:4420', ['--nqn', 'nqn.2026-11.io.ddplab:wrong', '--verify', 'none']);
    expect(r.exitCode).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim()).toBe('ddplab: admin Connect to nqn.2026-11.io.ddplab:wrong refused: CONNECT_INVALID_PARAM (SCT 0x1 SC 0x82)');
  });

  it('no target at the address fails in one line naming the address and the interface', async () => {
    const r = await runExternalFailing('192.0.2.9:4420', ['--nqn', NQN, '--verify', 'none']);
    expect(r.exitCode).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim()).toBe('ddplab: no ARP reply from 192.0.2.9 on ext0');
  });
});
