/**
 * What crosses between the host thread and the NIC thread (README.md here).
 *
 * Host → NIC: one message per turn of the host's event loop, an ordered list
 * of ops; frames to transmit are packed into one transferred ArrayBuffer and
 * named by (offset, length). Order is the contract: a read's `setup` reaches
 * the NIC before the frame carrying its command, as a driver programs the
 * NIC before it rings the transmit doorbell.
 *
 * NIC → host: one message per receive batch (and per turn in which a timer
 * of the NIC fired an event), an ordered event stream in a Float64Array plus
 * one transferred ArrayBuffer holding every byte the NIC wrote to host rx
 * memory for that batch (L2-L4 headers, payload it did not place, ARP
 * frames). Placed payload is not in it: it is already in the read's buffer,
 * shared memory the host registered (`register`), named by (region, offset).
 */
import type { FlowKey } from '../flow-table.js';
import type { NicRxStats } from '../nic-stats.js';
import type { PortStats } from '../port/port.js';
import type { ImpairConfig, ImpairStats } from '../port/impair.js';
import type { UlpDdpStats } from '../ddp/stats.js';
import type { NvmeTcpDdpLimits } from '../ddp/limits.js';
import type { NicProfile } from '../ddp/nic-profile.js';
import type { NvmeTcpSkConfig } from '../ddp/engine.js';

/** How the NIC thread builds its port, NIC and DDP device (all plain data: it is cloned into the worker). */
export interface NicThreadConfig {
  readonly iface: string;
  /** BPF filter for the live port. */
  readonly filter: string;
  readonly superFrames: boolean;
  /** The NIC's MAC, 6 bytes. */
  readonly mac: readonly number[];
  readonly mtu: number;
  readonly acceptPartialChecksums: boolean;
  /** Seeded impairment between the interface and the NIC (as the in-thread run wraps the port). */
  readonly impair?: ImpairConfig;
  /** Writes both directions to this pcap file (the capture tap, outermost). */
  readonly capturePath?: string;
  /** Linux's software GRO on the NIC's skbs before they go to the host (gro.ts); off: every segment on its own. */
  readonly gro: boolean;
  /** The NVMe/TCP DDP device, when the run offloads. */
  readonly ddp?: {
    readonly limits?: Partial<NvmeTcpDdpLimits>;
    readonly caps: { readonly 'nvme-tcp': boolean; readonly 'nvme-tcp-ddgst-rx': boolean };
    readonly nicTcpChecks: boolean;
    readonly profile: NicProfile;
  };
}

/** One host → NIC op. */
export type HostOp =
  | { readonly op: 'send'; readonly off: number; readonly len: number }
  | { readonly op: 'addFlow'; readonly flow: number; readonly key: FlowKey }
  | { readonly op: 'removeFlow'; readonly flow: number }
  /** Shared memory the NIC may place into (a read buffer's SharedArrayBuffer). */
  | { readonly op: 'register'; readonly region: number; readonly memory: SharedArrayBuffer }
  | { readonly op: 'skAdd'; readonly flow: number; readonly nextPduSeq: number; readonly heldEndSeq?: number; readonly config: NvmeTcpSkConfig }
  | { readonly op: 'skDel'; readonly flow: number }
  /** sgl: (region, offset, length) per entry, flat. */
  | { readonly op: 'setup'; readonly flow: number; readonly cid: number; readonly sgl: readonly number[] }
  | { readonly op: 'teardown'; readonly flow: number; readonly cid: number }
  | { readonly op: 'resync'; readonly flow: number; readonly seq: number }
  | { readonly op: 'audit'; readonly flow: number; readonly cid: number }
  | { readonly op: 'setCaps'; readonly caps: { readonly 'nvme-tcp'?: boolean; readonly 'nvme-tcp-ddgst-rx'?: boolean } }
  /** The host is done with the NIC's receive arena of this pool id (NicMessage.arena), transferred back. */
  | { readonly op: 'arenaFree'; readonly arena: number; readonly memory: ArrayBuffer }
  | { readonly op: 'close' };

/** One host → NIC message: the ops encoded as numbers (host-ops.ts), and what they refer to. */
export interface HostMessage {
  readonly ops: Float64Array;
  /** The memories of the `register` ops. */
  readonly memories: readonly SharedArrayBuffer[];
  /** The frames of the `send` ops. */
  readonly frames: ArrayBuffer | null;
  /** The arenas of the `arenaFree` ops (transferred). */
  readonly arenas: readonly ArrayBuffer[];
}

/**
 * Event records in NicMessage.events (Float64Array), each starting with its
 * tag. A byte range is (src, offset, length): src SRC_DATA is
 * NicMessage.data; SRC_ARENA the port's receive arena lent in
 * NicMessage.arena (a message without one has no SRC_ARENA range: the
 * outbox copied those bytes into data and rewrote their ranges). The host
 * transfers a lent arena back with an `arenaFree` op once nothing it keeps
 * reads it.
 *
 *   SKB      flow, tsUs, head range (3), l3Off, l4Off, flags, nFrags, then
 *            per frag 4 values: FRAG_HOST, range (3) | FRAG_PLACED, region,
 *            offset, length (into the host's registered memory)
 *   ARP      range (3)                      (the whole frame)
 *   DROP     reason, srcIp, srcPort, tcpFlags (-1: unknown)
 *   RESYNC   flow, seq, flags               (the NIC's resyncRequest)
 *   TEARDOWN flow, cid                      (teardownDone)
 *   REFUSED  flow, cid                      (the engine refused a setup the host's mirror accepted)
 */
export const SRC_DATA = 0;
export const SRC_ARENA = 1;

export const EV_SKB = 1;
export const EV_ARP = 2;
export const EV_DROP = 3;
export const EV_RESYNC = 4;
export const EV_TEARDOWN = 5;
export const EV_REFUSED = 6;

export const FRAG_HOST = 0;
export const FRAG_PLACED = 1;

export const SKB_DDP_PLACED = 1;
export const SKB_DDP_CRC_OK = 2;

export const DROP_REASONS = ['rx_errors', 'rx_csum_errors', 'rx_csum_partial_dropped', 'rx_no_flow'] as const;

/** Counters the NIC thread reports (with each message at most every STATS_INTERVAL_MS, and at close). */
export interface NicThreadStats {
  readonly nic: NicRxStats;
  readonly ddp: UlpDdpStats | null;
  readonly port: PortStats;
  readonly impair: { readonly rx: ImpairStats; readonly tx: ImpairStats } | null;
}

export interface NicMessage {
  readonly kind: 'events';
  readonly events: Float64Array;
  readonly data: ArrayBuffer;
  /** The pool id of the port's receive arena, lent to the host when it needs much of it; -1: none. */
  readonly arena: number;
  /** The lent arena (transferred); the host transfers it back with an `arenaFree` op. */
  readonly arenaMemory: ArrayBuffer | null;
  readonly stats?: NicThreadStats;
}

/** The NIC thread is up (its port is open) or could not start. */
export type NicStartMessage =
  | { readonly kind: 'ready'; readonly libpcap: string }
  | { readonly kind: 'start-failed'; readonly code: string; readonly message: string; readonly name: string };

/** The NIC thread closed its port: final counters and its own CPU time. */
export interface NicClosedMessage {
  readonly kind: 'closed';
  readonly stats: NicThreadStats;
  readonly cpu: { readonly userMs: number; readonly systemMs: number } | null;
}

/** An error inside the NIC thread after start (a bug): the run fails with it. */
export interface NicFailedMessage {
  readonly kind: 'failed';
  readonly message: string;
}

export type NicToHost = NicMessage | NicStartMessage | NicClosedMessage | NicFailedMessage;

/** The NIC thread's receive arenas as the host thread saw them (NicThread.rxArenas). */
export interface RxArenaStats {
  /** Arenas the NIC lent that went back to it. */
  readonly givenBack: number;
  /** Bytes the host copied out of lent arenas so that they could go back (what TCP still queued: out-of-order data, bytes not read yet). */
  readonly copiedBytes: number;
  /** Lent arenas the host kept (a flow that cannot copy out): they never go back. */
  readonly kept: number;
}

/** How often counters ride along with events. */
export const STATS_INTERVAL_MS = 100;
