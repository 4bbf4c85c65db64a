/**
 * NIC profiles: which DDP hardware the software NIC stands for. The engine
 * is one engine; a profile is the table of what it may do (NIC_PROFILES),
 * read once at sk_add, so no profile name is tested on the receive path.
 *
 *  - 'hardware' (the default) is modelled on the netdev series' mlx5
 *    driver: it places only at the expected next sequence number (a
 *    retransmission, a duplicate or any segment that starts before it
 *    passes up unplaced), remembers only the PDU it is in (no hole
 *    filling), keeps one setup per queue entry, takes a few packets to act
 *    on a resync confirmation, and keeps a torn-down mapping live until its
 *    teardownDone.
 *  - 'ideal' is the kinder model ddplab had first: it fills holes from
 *    retransmissions into the last 256 C2HData PDUs, acts on a
 *    confirmation at once and invalidates a mapping at teardown. Its
 *    placement figures are upper bounds of what an in-order NIC achieves.
 *
 * Both keep the invariant (offload is a pure optimisation); the
 * differential oracle runs both.
 */
export type NicProfile = 'hardware' | 'ideal';

export const NIC_PROFILE_NAMES: readonly NicProfile[] = ['hardware', 'ideal'];

/** The profile the CLI's --nic defaults to. */
export const DEFAULT_NIC_PROFILE: NicProfile = 'hardware';

/** A device built without a profile: the model the rigs and tests written before profiles were cut for. */
export const DEVICE_DEFAULT_NIC_PROFILE: NicProfile = 'ideal';

export function isNicProfile(s: string): s is NicProfile {
  return (NIC_PROFILE_NAMES as readonly string[]).includes(s);
}

/** What a profile lets the engine do. */
export interface NicProfileRules {
  /** Place bytes behind the walked stream (retransmissions, late segments) into remembered PDUs. */
  readonly fillHoles: boolean;
  /** Place from a segment that starts before the expected next byte (its new bytes are walked either way). */
  readonly placeOverlapping: boolean;
  /** C2HData PDUs remembered, for hole filling and for a confirmation to make placeable. */
  readonly recentPdus: number;
  /** Setups in flight per socket are bounded by the queue size as well as the device's limit. */
  readonly setupsWithinQueueSize: boolean;
  /** A confirmed resync takes effect after the device's resyncLatencyPackets (else at once). */
  readonly resyncLatency: boolean;
  /** teardown leaves the mapping live until teardownDone (after the device's teardown latency); else it invalidates at once. */
  readonly teardownLatency: boolean;
}

export const NIC_PROFILES: Readonly<Record<NicProfile, NicProfileRules>> = {
  hardware: {
    fillHoles: false,
    placeOverlapping: false,
    recentPdus: 1,
    setupsWithinQueueSize: true,
    resyncLatency: true,
    teardownLatency: true,
  },
  ideal: {
    fillHoles: true,
    placeOverlapping: true,
    recentPdus: 256,
    setupsWithinQueueSize: false,
    resyncLatency: false,
    teardownLatency: false,
  },
};

/** The timing knobs a profile's rules use (device options, with these defaults). */
export interface NicTiming {
  /** Packets of the flow after a confirmation before placing resumes ('hardware'). */
  readonly resyncLatencyPackets: number;
  /** Headers walked from an unanswered resync request before the NIC asks again at the current one. */
  readonly resyncRetryPdus: number;
  /** Packets of the flow after teardown before teardownDone ('hardware'), or ... */
  readonly teardownLatencyPackets: number;
  /** ... this many microseconds, whichever comes first. */
  readonly teardownLatencyUs: number;
}

export const DEFAULT_NIC_TIMING: NicTiming = {
  resyncLatencyPackets: 4,
  resyncRetryPdus: 8,
  teardownLatencyPackets: 2,
  teardownLatencyUs: 50,
};
