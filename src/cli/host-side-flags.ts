/**
 * The flags of the host side of a run, which `ddplab run` and `ddplab host`
 * both take with one meaning (run passes them on to the host process it
 * spawns): the workload, the timeouts, the impairment, devmem receive and the
 * host's DDP settings. Declared in this order once, so both --help texts list
 * them alike.
 */
import type { Command } from 'commander';
import { addDdpHostFlags } from './ddp-host-flags.js';
import { addDevmemFlags } from './devmem-flags.js';
import { addImpairFlags } from './impair-flags.js';
import { addTimeoutFlags, addWorkloadFlags } from './workload-flags.js';

/** --no-nic-thread and --no-gro, as commander gives them. */
export interface NicThreadFlag {
  nicThread?: boolean;
  gro?: boolean;
}

export function addHostSideFlags(cmd: Command): Command {
  addWorkloadFlags(cmd, { rw: 'randrw', bs: '4k', iodepth: '8', size: '64m' });
  cmd.option('--no-nic-thread', "run the software NIC in the host's thread (default: on its own thread for offload none, ddp and ddp-crc)");
  cmd.option('--no-gro', "hand every received segment to TCP on its own, as 'ethtool -K dev gro off' (default: Linux's GRO merges bursts on the NIC thread)");
  addTimeoutFlags(cmd);
  addImpairFlags(cmd);
  addDevmemFlags(cmd);
  return addDdpHostFlags(cmd);
}
