import { describe, expect, it } from 'vitest';
import { nicDropClasses, nicDropLines, passNote } from '../../src/cli/nic-drops.js';
import { newNicRxStats } from '../../src/nicemu/nic-stats.js';
import type { PortStats } from '../../src/nicemu/port/port.js';

const PORT: PortStats = { rxFrames: 100, rxBytes: 1, txFrames: 1, txBytes: 1, rxKernelDrops: 0, rxQueueDrops: 0, txErrors: 0 };

describe('human report: frames the NIC dropped', () => {
  it('says nothing when nothing was dropped (frames accepted whole or with partial checksums are not drops)', () => {
    const nic = { ...newNicRxStats(), rx_super_frames: 600, rx_csum_partial: 700, rx_other_host: 3, rx_unhandled: 2 };
    expect(nicDropLines(nic, PORT)).toEqual([]);
    expect(passNote(nic, PORT)).toBe('');
  });

  it('names every class with its count and a hint, and counts them all next to PASS', () => {
    const nic = { ...newNicRxStats(), rx_errors: 1, rx_csum_errors: 5, rx_csum_partial: 2, rx_csum_partial_dropped: 2, rx_no_flow: 4 };
    const port: PortStats = { ...PORT, rxKernelDrops: 7, rxQueueDrops: 8, rxTruncated: 1807 };
    expect(nicDropClasses(nic, port).map((c) => [c.counter, c.frames])).toEqual([
      ['port.rxKernelDrops', 7],
      ['port.rxQueueDrops', 8],
      ['port.rxTruncated', 1807],
      ['nic.rx_errors', 1],
      ['nic.rx_csum_errors', 3],
      ['nic.rx_csum_partial_dropped', 2],
      ['nic.rx_no_flow', 4],
    ]);
    const lines = nicDropLines(nic, port);
    expect(lines[0]).toMatch(/^ {2}drops {4}7 port\.rxKernelDrops: .*fell behind/);
    expect(lines[2]).toMatch(/1807 port\.rxTruncated: .*MTU.*TSO\/GSO/);
    expect(lines[5]).toMatch(/--no-accept-partial-csum/);
    expect(passNote(nic, port)).toBe(' — the NIC dropped 1832 frames (see drops; TCP recovered them)');
  });
});
