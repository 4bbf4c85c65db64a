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

/** --no-nic-thread, as commander gives it. */
export interface NicThreadFlag {
  nicThread?: boolean;
}

export function addHostSideFlags(cmd: Command): Command {
  addWorkloadFlags(cmd, { rw: 'randrw', bs: '4k', iodepth: '8', size: '64m' });
  cmd.option('--no-nic-thread', "run the software NIC in the host's thread (default: on its own thread for offload none, ddp and ddp-crc)");
  addTimeoutFlags(cmd);
  addImpairFlags(cmd);
  addDevmemFlags(cmd);
  return addDdpHostFlags(cmd);
}
