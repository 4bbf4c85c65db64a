/**
 * The target kernel's TCP counters (the SNMP MIB of /proc/net/snmp and the
 * Linux extensions of /proc/net/netstat, as `nstat` names them:
 * TcpRetransSegs, TcpExtTCPFastRetrans, ...), read inside the target
 * namespace. Loss toward the host is repaired by the target's kernel TCP, so
 * its retransmissions are what a run under --drop must show; the namespace
 * holds only the lab's connections, so the difference between two readings
 * is the run's own.
 */
import { execa } from 'execa';
import { netnsCommand, type TopologySide } from './topology.js';

export type KernelTcpCounters = Record<string, number>;

/** The counters a run report shows by name (the rest stay in the JSON). */
export const KERNEL_TCP_HEADLINE: readonly string[] = [
  'TcpRetransSegs',
  'TcpExtTCPFastRetrans',
  'TcpExtTCPTimeouts',
  'TcpExtTCPLossProbes',
  'TcpExtTCPSackRecovery',
  'TcpExtTCPDSACKRecv',
  'TcpExtTCPSpuriousRTOs',
  'TcpInCsumErrors',
];

/**
 * Parses the pairs of lines of /proc/net/snmp and /proc/net/netstat
 * ("Tcp: RtoAlgorithm RtoMin ..." then "Tcp: 1 200 ..."), keeping the Tcp
 * and TcpExt groups, named group + field as nstat does.
 */
export function parseKernelTcpCounters(text: string): KernelTcpCounters {
  const out: KernelTcpCounters = {};
  const lines = text.split('\n');
  for (let i = 0; i + 1 < lines.length; i++) {
    const head = lines[i]!.trim().split(/\s+/);
    const vals = lines[i + 1]!.trim().split(/\s+/);
    const group = head[0];
    if ((group !== 'Tcp:' && group !== 'TcpExt:') || vals[0] !== group || head.length !== vals.length) continue;
    // A header line is names; its value line is numbers.
    if (!/^-?\d+$/.test(vals[1] ?? '')) continue;
    const prefix = group.slice(0, -1);
    for (let k = 1; k < head.length; k++) out[prefix + head[k]!] = Number(vals[k]);
    i++;
  }
  return out;
}

/** after − before for every counter that moved (gauges like TcpCurrEstab may go negative). */
export function kernelTcpDelta(before: KernelTcpCounters, after: KernelTcpCounters): KernelTcpCounters {
  const out: KernelTcpCounters = {};
  for (const [k, v] of Object.entries(after)) {
    const d = v - (before[k] ?? 0);
    if (d !== 0) out[k] = d;
  }
  return out;
}

/** Reads the counters inside one namespace of topology `id`. */
export async function readKernelTcpCounters(id: string, side: TopologySide): Promise<KernelTcpCounters> {
  const c = netnsCommand(id, side, ['cat', '/proc/net/snmp', '/proc/net/netstat']);
  const r = await execa(c.file, c.args, { stdin: 'ignore' });
  return parseKernelTcpCounters(r.stdout);
}
