/**
 * The Port: Ethernet frame I/O for the software NIC (docs/design.md, "Contracts").
 *
 * A Port is where frames enter and leave the emulated NIC. Backends: a live
 * interface through libpcap (nicemu/port/live.ts), a pcap file replayed
 * (nicemu/port/pcap-file.ts); decorators wrap a Port and are Ports themselves
 * (nicemu/port/capture.ts writes both directions to a pcap file).
 *
 * Receive is batched, as a NIC's rx ring hands the driver a NAPI budget of
 * descriptors at a time: one consumer gets arrays of frames, in arrival
 * order, always asynchronously — never from inside send(), so a consumer that
 * answers a frame by sending cannot recurse into itself.
 */
import { DdplabError } from '../../base/errors.js';

/** One received frame. */
export interface RxFrame {
  /**
   * The whole Ethernet frame (no FCS). Owned by the consumer: the backend
   * copied it out of its capture buffer once (the NIC's "DMA") and never
   * touches it again.
   */
  readonly data: Buffer;
  /** Receive time, µs since the Unix epoch (the capture timestamp). */
  readonly tsUs: number;
  /**
   * The port's receive checksum offload verified the frame's IPv4 header
   * and TCP checksums (a port that does not say leaves the NIC model to
   * sum them). Only ever a "yes": a frame without it is checked as usual.
   */
  readonly csumVerified?: boolean;
}

/** Counters every Port keeps (monotonic; read them as a snapshot). */
export interface PortStats {
  /** Frames delivered to the consumer. */
  readonly rxFrames: number;
  readonly rxBytes: number;
  /** Frames transmitted (handed to the medium without error). */
  readonly txFrames: number;
  readonly txBytes: number;
  /**
   * Frames lost before the port saw them: the kernel's capture ring was full
   * (libpcap's ps_drop), the equivalent of a NIC's rx_missed_errors.
   */
  readonly rxKernelDrops: number;
  /**
   * Frames the port dropped because its rx queue was full: the consumer did
   * not keep up (a NIC out of rx descriptors drops the same way).
   */
  readonly rxQueueDrops: number;
  /** Frames send() could not transmit (the kernel refused them; counted, not thrown). */
  readonly txErrors: number;
  /**
   * Frames the capture cut short of their length on the wire (only the live
   * port can tell): dropped, since a cut TCP segment fails every check after.
   */
  readonly rxTruncated?: number;
}

export type RxConsumer = (batch: readonly RxFrame[]) => void;

export interface Port {
  /**
   * Transmits one whole Ethernet frame (no FCS). Never re-enters the
   * consumer. A frame the medium refuses is counted in txErrors; calling
   * send() after close() throws PortError('PORT_CLOSED').
   */
  send(frame: Buffer): void;
  /**
   * Registers the one consumer. Frames that arrive before it is registered
   * wait in the port's rx queue (bounded; overflow counts rxQueueDrops).
   * A second registration throws PortError('PORT_CONSUMER_SET').
   */
  onFrames(consumer: RxConsumer): void;
  /** Stops receive and transmit and releases the backend; idempotent. */
  close(): Promise<void>;
  readonly stats: PortStats;
}

export type PortErrorCode =
  | 'PORT_CLOSED'
  | 'PORT_CONSUMER_SET'
  | 'LIBPCAP_MISSING' // the shared library or the node binding cannot be loaded
  | 'IFACE_MISSING'
  | 'PERMISSION' // capture needs root or CAP_NET_RAW
  | 'CAPTURE_FAILED' // libpcap refused to open or filter, for another reason
  | 'LINKTYPE' // the interface is not Ethernet
  | 'PORT_ARENA'; // a receive arena given back that the port had not lent (a bug in its owner)

/** Errors of every Port backend; `message` is one line a user can act on. */
export class PortError extends DdplabError<PortErrorCode> {
  constructor(code: PortErrorCode, message: string) {
    super(code, message);
    this.name = 'PortError';
  }
}

/** Mutable counters behind a backend's `stats` getter. */
export class PortCounters {
  rxFrames = 0;
  rxBytes = 0;
  txFrames = 0;
  txBytes = 0;
  rxKernelDrops = 0;
  rxQueueDrops = 0;
  txErrors = 0;
  rxTruncated = 0;

  snapshot(): PortStats {
    return {
      rxFrames: this.rxFrames,
      rxBytes: this.rxBytes,
      txFrames: this.txFrames,
      txBytes: this.txBytes,
      rxKernelDrops: this.rxKernelDrops,
      rxQueueDrops: this.rxQueueDrops,
      txErrors: this.txErrors,
      ...(this.rxTruncated > 0 ? { rxTruncated: this.rxTruncated } : {}),
    };
  }
}
