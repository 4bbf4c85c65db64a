/**
 * The passive NVMe/TCP host ULP of a replay: the receive half of the live
 * host (src/host/nvme/queue.ts) without the submitting half. It reads the
 * target's PDUs as the host would — C2HData placed into its command's
 * buffer at DATAO through the copy routine (bytes a DDP NIC placed are
 * skipped), data digests by the DDP rule, completions by CapsuleResp or the
 * SUCCESS flag — for commands it learned from the host's own stream
 * (replay/command-learner.ts) instead of issuing them.
 *
 * Where the live host ends the connection, a replay reports and goes on:
 * a PDU for a CID with no current command, data beyond its command's
 * length, a header whose digest does not match (its fields cannot be
 * trusted, so its data goes nowhere), a data digest mismatch (the command
 * is reported with it).
 */
import { parseCqe } from '../wire/nvme-cqe.js';
import { PduType, type ParsedPduHeader } from '../wire/nvme-tcp-pdu.js';
import { seqAdd } from '../wire/seq.js';
import type { PduDataTarget, PduEndEvent, PduEvent, PduStreamHandler } from './pdu-stream.js';
import type { ReplayCommand, ReplayCommandTable } from './commands.js';

/** Target → host PDU types. */
export const C2H_PDU_TYPES: ReadonlySet<PduType> = new Set([PduType.ICResp, PduType.C2HTermReq, PduType.CapsuleResp, PduType.C2HData, PduType.R2T]);

export interface HostUlpStats {
  /** PDUs (C2HData, CapsuleResp, R2T) naming a CID with no current command. */
  unknownCidPdus: number;
  /** C2HData payload bytes that went nowhere (unknown CID, out of range, untrusted header). */
  unplacedDataBytes: number;
  /** C2HData beyond its command's data length, or for a command without C2H data. */
  outOfRangePdus: number;
  /** PDUs whose header digest did not match: not acted on. */
  untrustedPdus: number;
  capsuleResps: number;
  successCompletions: number;
  c2hDataBytes: number;
  r2ts: number;
  termReqs: number;
}

export function newHostUlpStats(): HostUlpStats {
  return {
    unknownCidPdus: 0,
    unplacedDataBytes: 0,
    outOfRangePdus: 0,
    untrustedPdus: 0,
    capsuleResps: 0,
    successCompletions: 0,
    c2hDataBytes: 0,
    r2ts: 0,
    termReqs: 0,
  };
}

/** What the ULP tells its connection about (connection-level events). */
export interface HostUlpEvents {
  /** ICResp: what the controller granted. */
  icResp(cpda: number, hdgst: boolean, ddgst: boolean): void;
  /** A command completed successfully; `nextPduSeq` is where the PDU after its completion starts. */
  completed(cmd: ReplayCommand, nextPduSeq: number): void;
  /** The parser reached a PDU header at `seq` (its common header's type and flags). */
  headerAt(seq: number, type: PduType, flags: number): void;
  /** A C2HTermReq: the controller ended the connection. */
  terminated(fes: number): void;
  /** A data digest the NIC did not fully verify is checked over the request's whole buffer (the 'linux' ULP with the data-digest offload on). */
  crcOverRequest(): boolean;
}

export class ReplayHostUlp implements PduStreamHandler {
  readonly stats: HostUlpStats = newHostUlpStats();
  /** The command of the C2HData PDU being received. */
  private dataCmd: ReplayCommand | undefined;

  constructor(
    private readonly table: ReplayCommandTable,
    private readonly events: HostUlpEvents,
  ) {}

  candidate(parsed: ParsedPduHeader, seq: number): boolean {
    const h = parsed.header;
    if (h.type !== PduType.C2HData) return true;
    // A data PDU for a command we know must fit it; for one we do not, nothing to judge by.
    const cmd = this.table.peekAt(h.cccid, seq);
    return cmd === undefined || (cmd.c2hData && h.datao + h.datal <= cmd.lenBytes);
  }

  header(ev: PduEvent): PduDataTarget | undefined {
    this.events.headerAt(ev.seq, ev.parsed.layout.type, ev.parsed.layout.flags);
    const h = ev.parsed.header;
    this.dataCmd = undefined;
    if (ev.hdgst === 'mismatch') {
      this.stats.untrustedPdus++;
      if (h.type === PduType.C2HData) this.stats.unplacedDataBytes += h.datal;
      return undefined;
    }
    switch (h.type) {
      case PduType.ICResp:
        this.events.icResp(h.cpda, h.hdgstEnable, h.ddgstEnable);
        return undefined;
      case PduType.CapsuleResp: {
        this.stats.capsuleResps++;
        const cqe = parseCqe(h.cqe);
        const cmd = this.table.current(cqe.cid, ev.seq);
        if (cmd === undefined) {
          this.stats.unknownCidPdus++;
          return undefined;
        }
        this.table.complete(cmd, cqe.status, 'capsule-resp');
        if (cqe.status === 0) this.events.completed(cmd, seqAdd(ev.seq, ev.parsed.layout.plen));
        return undefined;
      }
      case PduType.C2HData: {
        this.stats.c2hDataBytes += h.datal;
        const cmd = this.table.current(h.cccid, ev.seq);
        if (cmd === undefined) {
          this.stats.unknownCidPdus++;
          this.stats.unplacedDataBytes += h.datal;
          return undefined;
        }
        if (!cmd.c2hData || cmd.buf === undefined || h.datao + h.datal > cmd.lenBytes) {
          this.stats.outOfRangePdus++;
          this.stats.unplacedDataBytes += h.datal;
          return undefined;
        }
        cmd.dataPdus++;
        cmd.pduRanges?.push([ev.seq, ev.parsed.layout.plen]);
        this.dataCmd = cmd;
        return { buf: cmd.buf, off: h.datao, ...(this.events.crcOverRequest() ? { request: cmd.buf } : {}) };
      }
      case PduType.R2T:
        this.stats.r2ts++;
        if (this.table.current(h.cccid, ev.seq) === undefined) this.stats.unknownCidPdus++;
        return undefined;
      case PduType.C2HTermReq:
        this.stats.termReqs++;
        this.events.terminated(h.fes);
        return undefined;
      default:
        // The stream passes only target → host types.
        return undefined;
    }
  }

  end(ev: PduEndEvent): void {
    const cmd = this.dataCmd;
    this.dataCmd = undefined;
    const h = ev.parsed.header;
    if (cmd === undefined || h.type !== PduType.C2HData) return;
    for (const [off, len] of ev.received) cmd.coverage.add(h.datao + off, len);
    switch (ev.ddgst) {
      case 'ok':
        cmd.ddgstOk++;
        break;
      case 'mismatch':
        cmd.ddgstMismatch++;
        break;
      case 'nic-verified':
        cmd.ddgstNicVerified++;
        break;
      case 'unverifiable':
        cmd.ddgstUnverifiable++;
        break;
      case 'absent':
        break;
    }
    if (h.success && h.lastPdu) {
      this.stats.successCompletions++;
      this.table.complete(cmd, 0, 'c2h-success');
      this.events.completed(cmd, seqAdd(ev.seq, ev.parsed.layout.plen));
    }
  }
}
