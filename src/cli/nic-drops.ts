/**
 * The frames a run's receive path dropped, by class, each with what it
 * usually means and what to do — for the human report, so that a run that
 * passed while its NIC dropped frames (and TCP recovered them, slowly) says
 * so next to PASS instead of only in a counter.
 */
import type { NicRxStats } from '../nicemu/nic-stats.js';
import type { PortStats } from '../nicemu/port/port.js';

export interface NicDropClass {
  /** Counter name as the JSON report shows it. */
  readonly counter: string;
  readonly frames: number;
  readonly hint: string;
}

/** Every class of dropped frame with a nonzero count, in receive-path order. */
export function nicDropClasses(nic: NicRxStats, port: PortStats): NicDropClass[] {
  const partial = nic.rx_csum_partial_dropped;
  const classes: NicDropClass[] = [
    { counter: 'port.rxKernelDrops', frames: port.rxKernelDrops, hint: "the kernel's capture ring was full: the host process fell behind the wire" },
    { counter: 'port.rxQueueDrops', frames: port.rxQueueDrops, hint: "the port's rx ring was full: the NIC and host model fell behind" },
    {
      counter: 'port.rxTruncated',
      frames: port.rxTruncated ?? 0,
      hint: "cut short by the capture: frames above the interface's MTU (a local peer's TSO/GSO super-frames); ddplab host takes --super-frames, or turn TSO/GSO off on the peer",
    },
    { counter: 'nic.rx_errors', frames: nic.rx_errors, hint: 'did not parse (truncated or malformed Ethernet, IPv4 or TCP headers)' },
    {
      counter: 'nic.rx_csum_errors',
      frames: nic.rx_csum_errors - partial,
      hint: 'bad IPv4 or TCP checksums: corruption on the way (or --corrupt impairment)',
    },
    {
      counter: 'nic.rx_csum_partial_dropped',
      frames: partial,
      hint: "partial TCP checksums (the peer's tx checksum offload) refused because of --no-accept-partial-csum",
    },
    { counter: 'nic.rx_no_flow', frames: nic.rx_no_flow, hint: 'TCP segments for no open connection: stray segments after a close, or another host on the link' },
  ];
  return classes.filter((c) => c.frames > 0);
}

/** Report lines ("  drops    ..."), none when nothing was dropped. */
export function nicDropLines(nic: NicRxStats, port: PortStats): string[] {
  return nicDropClasses(nic, port).map((c, i) => `  ${i === 0 ? 'drops   ' : '        '} ${c.frames} ${c.counter}: ${c.hint}`);
}

/** What goes after PASS: empty, or " — the NIC dropped N frames (see drops)". */
export function passNote(nic: NicRxStats, port: PortStats): string {
  const n = nicDropClasses(nic, port).reduce((s, c) => s + c.frames, 0);
  return n === 0 ? '' : ` — the NIC dropped ${n} frame${n === 1 ? '' : 's'} (see drops; TCP recovered them)`;
}
