/**
 * The topology scripts through src/lab/topology.ts and the CLI: what `up`
 * builds (addresses, no IPv6, no default route, offloads, MTU), that `up`
 * twice and `down` of a missing id are harmless, and that a run's topology
 * goes away on success, error, SIGINT and SIGTERM — and, after SIGKILL, with
 * `ddplab down --all`. After the suite no namespace of these tests is left.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  netnsCommand,
  newTopologyId,
  setHostKernelRx,
  topologyDown,
  topologyStatus,
  topologyUp,
  withTopology,
  type Topology,
} from '../../src/lab/topology.js';
import { namespacesOf } from '../support/lab/live-run-rig.js';
import { runUnprivileged } from '../support/unprivileged.js';

const isRoot = process.getuid?.() === 0;
const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CHILD = fileURLToPath(new URL('../support/lab/with-topology-child.ts', import.meta.url));
const DDPLAB = fileURLToPath(new URL('../../bin/ddplab.js', import.meta.url));

/** Every id this file creates, removed again in afterAll whatever happened. */
const ids: string[] = [];
function freshId(): string {
  const id = newTopologyId();
  ids.push(id);
  return id;
}

async function inNs(id: string, side: 'tgt' | 'host', argv: string[]): Promise<string> {
  const cmd = netnsCommand(id, side, argv);
  return (await execa(cmd.file, cmd.args, { stdin: 'ignore' })).stdout;
}

interface IpAddr {
  ifname: string;
  flags: string[];
  addr_info: { family: string; local: string; prefixlen: number }[];
}

async function addrs(id: string, side: 'tgt' | 'host'): Promise<IpAddr[]> {
  return JSON.parse(await inNs(id, side, ['ip', '-j', 'addr', 'show'])) as IpAddr[];
}

async function features(id: string, side: 'tgt' | 'host', dev: string): Promise<Map<string, string>> {
  const text = await inNs(id, side, ['ethtool', '-k', dev]);
  const m = new Map<string, string>();
  for (const line of text.split('\n')) {
    const match = /^([a-z0-9-]+): (on|off)/.exec(line.trim());
    if (match) m.set(match[1]!, match[2]!);
  }
  return m;
}

/** Starts with-topology-child.ts for run `id`; resolves once it printed "ready". */
async function startRun(id: string): Promise<ReturnType<typeof spawn>> {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, id], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      if (d.toString().includes('ready')) resolve();
    });
    child.once('exit', (code, signal) => reject(new Error(`run exited early (${code ?? signal}): ${err}`)));
  });
  return child;
}

function exited(child: ReturnType<typeof spawn>): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null) {
    return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  }
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
}

describe.skipIf(!isRoot)('live topology', () => {
  afterAll(async () => {
    for (const id of ids) await topologyDown(id);
    // Nothing this suite made survives it; other runs on the machine may come and go meanwhile.
    expect(namespacesOf(ids)).toEqual([]);
  });

  describe('what up builds', () => {
    const id = freshId();
    let topo: Topology;

    beforeAll(async () => {
      topo = await topologyUp({ id });
    });

    afterAll(async () => {
      await topologyDown(id);
    });

    it('puts 192.0.2.1/24 on tgt0 and no address at all on host0', async () => {
      const tgt = (await addrs(id, 'tgt')).find((a) => a.ifname === 'tgt0')!;
      expect(tgt.addr_info.map((a) => `${a.family} ${a.local}/${a.prefixlen}`)).toEqual(['inet 192.0.2.1/24']);
      const host = (await addrs(id, 'host')).find((a) => a.ifname === 'host0')!;
      expect(host.addr_info).toEqual([]);
      expect(host.flags).toContain('NOARP');
      expect(topo.targetIp).toBe('192.0.2.1');
      expect(topo.hostIp).toBe('192.0.2.2');
      expect(topo.hostMac).toMatch(/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/);
    });

    it('turns IPv6 off, brings loopback up and adds no default route in either namespace', async () => {
      for (const side of ['tgt', 'host'] as const) {
        expect((await inNs(id, side, ['sysctl', '-n', 'net.ipv6.conf.all.disable_ipv6'])).trim()).toBe('1');
        const all = await addrs(id, side);
        expect(all.flatMap((a) => a.addr_info).filter((a) => a.family === 'inet6')).toEqual([]);
        expect(all.find((a) => a.ifname === 'lo')!.flags).toContain('UP');
        const routes = JSON.parse(await inNs(id, side, ['ip', '-j', 'route', 'show'])) as { dst: string }[];
        expect(routes.map((r) => r.dst)).toEqual(side === 'tgt' ? ['192.0.2.0/24'] : []);
      }
    });

    it('turns TSO/GSO/GRO off on both ends and tx checksumming off on tgt0, MTU 1500', async () => {
      const tgt = await features(id, 'tgt', 'tgt0');
      const host = await features(id, 'host', 'host0');
      for (const f of ['tcp-segmentation-offload', 'generic-segmentation-offload', 'generic-receive-offload']) {
        expect(tgt.get(f), `tgt0 ${f}`).toBe('off');
        expect(host.get(f), `host0 ${f}`).toBe('off');
      }
      expect(tgt.get('tx-checksumming')).toBe('off');
      expect(topo.mtu).toBe(1500);
    });

    it("keeps the host namespace's kernel out of host0's frames, which still arrive there; host-kernel-rx on lets them in", async () => {
      // The host namespace has no address, no IPv6 and no route: its kernel's
      // IPv4 receive count moves only with frames from host0.
      const ipInReceives = async (): Promise<number> => {
        const lines = (await inNs(id, 'host', ['cat', '/proc/net/snmp'])).split('\n').filter((l) => l.startsWith('Ip:'));
        const names = lines[0]!.split(/\s+/);
        return Number(lines[1]!.split(/\s+/)[names.indexOf('InReceives')]);
      };
      const rxPackets = async (): Promise<number> => Number(await inNs(id, 'host', ['cat', '/sys/class/net/host0/statistics/rx_packets']));
      // UDP datagrams from the target's kernel to 192.0.2.2, on a neighbour
      // entry made for the test (host0 answers no ARP).
      const send = async (n: number): Promise<void> => {
        for (let i = 0; i < n; i++) await inNs(id, 'tgt', ['bash', '-c', 'echo ddplab > /dev/udp/192.0.2.2/9']);
      };
      await inNs(id, 'tgt', ['ip', 'neigh', 'replace', '192.0.2.2', 'lladdr', topo.hostMac, 'dev', 'tgt0', 'nud', 'permanent']);
      try {
        const filters = await inNs(id, 'host', ['tc', 'filter', 'show', 'dev', 'host0', 'ingress']);
        expect(filters).toContain('direct-action');
        let ip0 = await ipInReceives();
        const rx0 = await rxPackets();
        await send(5);
        expect((await rxPackets()) - rx0).toBeGreaterThanOrEqual(5);
        expect((await ipInReceives()) - ip0).toBe(0);

        await setHostKernelRx(id, true);
        ip0 = await ipInReceives();
        await send(5);
        expect((await ipInReceives()) - ip0).toBeGreaterThanOrEqual(5);

        await setHostKernelRx(id, false);
        ip0 = await ipInReceives();
        await send(5);
        expect((await ipInReceives()) - ip0).toBe(0);
      } finally {
        await setHostKernelRx(id, false);
        await inNs(id, 'tgt', ['ip', 'neigh', 'del', '192.0.2.2', 'dev', 'tgt0']);
      }
    });

    it("pins the target kernel's congestion control on tgt0's subnet route: cubic unless told, any registered one on request", async () => {
      const route = async (): Promise<string> => (await inNs(id, 'tgt', ['ip', 'route', 'show', '192.0.2.0/24'])).trim();
      expect(topo.targetCc).toBe('cubic');
      expect(await route()).toMatch(/congctl cubic\b/);
      // Connections on the route use it, whatever the namespace's default says.
      try {
        const again = await topologyUp({ id, targetCc: 'reno' });
        expect(again.targetCc).toBe('reno');
        expect(await route()).toMatch(/congctl reno\b/);
      } finally {
        await topologyUp({ id });
      }
      expect(await route()).toMatch(/congctl cubic\b/);
      await expect(topologyUp({ id, targetCc: 'nosuchcc' })).rejects.toMatchObject({ code: 'NETNS_FAILED', message: expect.stringContaining("'nosuchcc' is not available") });
      await expect(topologyUp({ id, targetCc: 'a b' })).rejects.toMatchObject({ code: 'BAD_CC' });
      expect(await route()).toMatch(/congctl cubic\b/);
    });

    it('running up again keeps the same topology (same MACs) and reports it complete', async () => {
      const again = await topologyUp({ id });
      expect(again.hostMac).toBe(topo.hostMac);
      expect(again.tgtMac).toBe(topo.tgtMac);
      const [status] = await topologyStatus(id);
      expect(status!.complete).toBe(true);
      expect(status!.tgt.link!.up && status!.host.link!.up).toBe(true);
    });
  });

  it('builds jumbo MTU and, on request, leaves segmentation offloads on', async () => {
    const id = freshId();
    try {
      const topo = await topologyUp({ id, mtu: 9000, vethOffloads: true, txChecksum: true });
      expect(topo.mtu).toBe(9000);
      const [status] = await topologyStatus(id);
      expect(status!.tgt.link!.mtu).toBe(9000);
      expect((await features(id, 'tgt', 'tgt0')).get('generic-segmentation-offload')).toBe('on');
      expect((await features(id, 'tgt', 'tgt0')).get('tx-checksumming')).toBe('on');
    } finally {
      await topologyDown(id);
    }
  });

  it('keeps two runs apart: the same interface names in different namespaces', async () => {
    const a = freshId();
    const b = freshId();
    try {
      const ta = await topologyUp({ id: a });
      const tb = await topologyUp({ id: b });
      expect(ta.hostNs).not.toBe(tb.hostNs);
      expect((await topologyStatus()).filter((s) => (s.id === a || s.id === b) && s.complete)).toHaveLength(2);
      await topologyDown(a);
      const [still] = await topologyStatus(b);
      expect(still!.complete).toBe(true);
    } finally {
      await topologyDown(a);
      await topologyDown(b);
    }
  });

  it('down of a missing id removes nothing and succeeds', async () => {
    expect(await topologyDown(freshId())).toEqual([]);
  });

  it('withTopology removes the topology when the function returns and when it throws', async () => {
    const ok = freshId();
    const seen = await withTopology({ id: ok }, async (topo) => (await topologyStatus(topo.id))[0]!.complete);
    expect(seen).toBe(true);
    expect(await topologyStatus(ok)).toEqual([]);

    const bad = freshId();
    await expect(
      withTopology({ id: bad }, async () => {
        throw new Error('run failed');
      }),
    ).rejects.toThrow('run failed');
    expect(await topologyStatus(bad)).toEqual([]);
  });

  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    it(`a run that gets ${signal} removes its topology and dies of the signal`, async () => {
      const id = freshId();
      const run = await startRun(id);
      try {
        expect((await topologyStatus(id))[0]!.complete).toBe(true);
        run.kill(signal);
        expect(await exited(run)).toEqual({ code: null, signal });
        expect(await topologyStatus(id)).toEqual([]);
      } finally {
        run.kill('SIGKILL');
      }
    });
  }

  it('after a run is killed with SIGKILL, ddplab down --all removes its namespaces and the processes left in them', async () => {
    const id = freshId();
    const run = await startRun(id);
    try {
      run.kill('SIGKILL');
      expect(await exited(run)).toEqual({ code: null, signal: 'SIGKILL' });
      const [left] = await topologyStatus(id);
      expect(left!.complete).toBe(true);
      expect(left!.owner).toBe(run.pid);
      expect(left!.ownerAlive).toBe(false);
      expect(left!.tgt.pids).toBeGreaterThanOrEqual(1); // the sleep the run started in tgt

      const down = await execa(process.execPath, [DDPLAB, 'down', '--all'], { cwd: REPO_ROOT });
      // Ours, unless another suite's `down --all` running beside this one took the dead run's namespaces first:
      // either way they are gone with the processes left in them, and ours kept nothing of that id.
      if (!down.stdout.includes(`ddplab-${id}-tgt`)) expect(down.stdout).not.toMatch(new RegExp(`^kept .*\\b${id}\\b`, 'm'));
      else expect(down.stdout).toContain(`ddplab-${id}-host`);
      expect(await topologyStatus(id)).toEqual([]);
      expect(namespacesOf([id])).toEqual([]);
    } finally {
      run.kill('SIGKILL');
    }
  });

  it('ddplab down --all keeps a topology built by hand with ddplab up (somebody is using it), and down --id removes it', async () => {
    const id = freshId();
    try {
      const up = await execa(process.execPath, [DDPLAB, 'up', '--id', id], { cwd: REPO_ROOT });
      expect(up.stdout).toContain(`up ${id}:`);
      const [st] = await topologyStatus(id);
      expect(st!.manual).toBe(true);
      expect(st!.owner).toBeNull();
      const status = await execa(process.execPath, [DDPLAB, 'status', '--id', id], { cwd: REPO_ROOT });
      expect(status.stdout).toContain('[built by ddplab up]');
      const down = await execa(process.execPath, [DDPLAB, 'down', '--all'], { cwd: REPO_ROOT });
      expect(down.stdout).toMatch(new RegExp(`^kept ([a-z0-9]+ )*${id} ([a-z0-9]+ )*\\(built by ddplab up;`, 'm'));
      expect((await topologyStatus(id))[0]!.complete).toBe(true);
      await execa(process.execPath, [DDPLAB, 'down', '--id', id], { cwd: REPO_ROOT });
      expect(await topologyStatus(id)).toEqual([]);
    } finally {
      await execa(process.execPath, [DDPLAB, 'down', '--id', id], { cwd: REPO_ROOT, reject: false });
    }
  });

  it('ddplab down --all leaves the topology of a run that is still alive', async () => {
    const id = freshId();
    const run = await startRun(id);
    try {
      const [st] = await topologyStatus(id);
      expect(st!.owner).toBe(run.pid);
      expect(st!.ownerAlive).toBe(true);
      const down = await execa(process.execPath, [DDPLAB, 'down', '--all'], { cwd: REPO_ROOT });
      expect(down.stdout).toMatch(new RegExp(`^kept (\\S+ )*${id} `, 'm'));
      expect((await topologyStatus(id))[0]!.complete).toBe(true);
      // (--force would remove it, and every other live run on this machine with it: not exercised here.)
      run.kill('SIGTERM');
      await exited(run);
      expect(await topologyStatus(id)).toEqual([]);
    } finally {
      run.kill('SIGKILL');
    }
  });

  it('the CLI tells a non-root user to run as root', () => {
    const r = runUnprivileged({ checkout: REPO_ROOT, argv: (root) => [process.execPath, join(root, 'bin/ddplab.js'), 'up'] });
    expect(r.status).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^ddplab: ddplab up needs root .*run it as root, e\.g\. sudo /);
  });
});
