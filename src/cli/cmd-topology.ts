/**
 * `ddplab up`, `ddplab down`, `ddplab status`: the live topology by hand
 * (netns/ does the work; src/lab/topology.ts calls it). `up` leaves the
 * topology in place for later commands; `down --all` removes whatever a
 * crashed or killed run left behind.
 */
import type { Command } from 'commander';
import {
  newTopologyId,
  topologyDown,
  topologyDownAll,
  topologyStatus,
  topologyUp,
  type TopologySideStatus,
  type TopologyStatus,
} from '../lab/topology.js';
import { UserError } from '../base/errors.js';
import { TARGET_CC } from '../lab/target-cc.js';
import { addVethOffloadsFlag, vethOffloadsFromFlags, type VethOffloadFlags } from './run-flags.js';

interface UpFlags extends VethOffloadFlags {
  id?: string;
  mtu?: string;
  txCsum?: boolean;
  targetCc?: string;
  json?: boolean;
}

interface DownFlags {
  id?: string;
  all?: boolean;
  force?: boolean;
}

interface StatusFlags {
  id?: string;
  json?: boolean;
}

function parseMtu(text: string): number {
  if (!/^\d+$/.test(text)) throw new UserError('BAD_MTU', `bad --mtu "${text}": use a number 68..65535`);
  return Number(text);
}

function describeSide(s: TopologySideStatus): string {
  if (!s.exists) return `${s.ns} missing`;
  if (s.link === null) return `${s.ns} (no interface, ${s.pids} processes)`;
  return `${s.ns} ${s.link.name} ${s.link.up ? 'up' : 'down'} mtu ${s.link.mtu} mac ${s.link.mac} (${s.pids} processes)`;
}

function describe(st: TopologyStatus): string {
  const run = st.manual ? ' [built by ddplab up]' : st.owner === null ? '' : ` [run ${st.owner} ${st.ownerAlive ? 'alive' : 'gone'}]`;
  return `${st.id}: ${describeSide(st.tgt)}; ${describeSide(st.host)}${st.complete ? '' : ' [incomplete]'}${run}`;
}

export function registerTopologyCommands(program: Command): void {
  const up = program
    .command('up')
    .description('build the live topology: netns ddplab-<id>-tgt (tgt0 192.0.2.1/24) and ddplab-<id>-host (host0, no address)')
    .option('--id <id>', 'run id, 1-8 characters [a-z0-9] (default: random)')
    .option('--mtu <bytes>', 'MTU of both veth ends, 68..65535 (default 1500)');
  addVethOffloadsFlag(up, "leave the kernel's TSO/GSO/GRO on the veth pair (default off: host0 sees wire-sized frames)")
    .option('--tx-csum', 'leave tx checksum offload on on tgt0 (default off: frames carry full checksums)')
    .option('--target-cc <name>', `the target kernel's TCP congestion control towards the host (default ${TARGET_CC}, stock Linux's)`)
    .option('--json', 'print the topology as JSON')
    .action(async (flags: UpFlags) => {
      const topo = await topologyUp({
        id: flags.id ?? newTopologyId(),
        mtu: flags.mtu === undefined ? undefined : parseMtu(flags.mtu),
        vethOffloads: vethOffloadsFromFlags(flags),
        txChecksum: flags.txCsum ?? false,
        ...(flags.targetCc !== undefined ? { targetCc: flags.targetCc } : {}),
        // Built for later commands: `ddplab down --all` (and other runs' cleanups) keep it.
        ownerPid: 'manual',
      });
      if (flags.json) {
        process.stdout.write(`${JSON.stringify(topo)}\n`);
        return;
      }
      process.stdout.write(
        `up ${topo.id}: ${topo.tgtNs} ${topo.tgtIf} ${topo.targetIp}/${topo.prefixLen} mac ${topo.tgtMac}; ` +
          `${topo.hostNs} ${topo.hostIf} mac ${topo.hostMac} (host stack ${topo.hostIp}); mtu ${topo.mtu}; target congestion control ${topo.targetCc}\n` +
          `remove it with: ddplab down --id ${topo.id}\n`,
      );
    });

  program
    .command('down')
    .description('remove the topology of one run (--id) or of every run (--all); missing ones are no-ops')
    .option('--id <id>', 'run id to remove')
    .option('--all', 'remove every ddplab-<id>-tgt|host namespace whose run is gone (after a crash or SIGKILL); a topology built by ddplab up is kept (--force removes it)')
    .option('--force', 'with --all: also remove topologies of runs still alive')
    .action(async (flags: DownFlags) => {
      if ((flags.id === undefined) === (flags.all !== true)) {
        throw new UserError('BAD_USAGE', 'ddplab down needs exactly one of --id <id> or --all');
      }
      if (flags.force && !flags.all) throw new UserError('BAD_USAGE', 'ddplab down: --force goes with --all');
      if (flags.all) {
        const { removed, kept, keptManual } = await topologyDownAll(flags.force ?? false);
        const lines = [removed.length === 0 ? 'nothing to remove' : `removed ${removed.join(' ')}`];
        if (kept.length > 0) lines.push(`kept ${kept.join(' ')} (their runs are alive; --force removes them)`);
        if (keptManual.length > 0) lines.push(`kept ${keptManual.join(' ')} (built by ddplab up; ddplab down --id ID or --all --force removes them)`);
        process.stdout.write(`${lines.join('\n')}\n`);
        return;
      }
      const removed = await topologyDown(flags.id!);
      process.stdout.write(removed.length === 0 ? 'nothing to remove\n' : `removed ${removed.join(' ')}\n`);
    });

  program
    .command('status')
    .description('list the ddplab topologies that exist')
    .option('--id <id>', 'only this run id')
    .option('--json', 'print JSON (what netns/status.sh --json reports)')
    .action(async (flags: StatusFlags) => {
      const all = await topologyStatus(flags.id);
      if (flags.json) {
        process.stdout.write(`${JSON.stringify(all)}\n`);
        return;
      }
      process.stdout.write(all.length === 0 ? 'no ddplab topology\n' : `${all.map(describe).join('\n')}\n`);
    });
}
