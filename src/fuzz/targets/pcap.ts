/**
 * Fuzz target for the capture reader (src/wire/capture-reader.ts), pcap and
 * pcapng: a capture file (part 0), decoded whole with decodeCapture and
 * streamed through openCapture in chunks cut by a plan (part 1). Oracle:
 * only WireError (PCAP_*) for bad files; records that are views inside the
 * file with caplen = data length; a file cut short says where, consistently
 * with its length; the frames survive a rewrite as pcap and as pcapng; and
 * the two ways of reading agree — the same records and cut when the file
 * reads, the same error code when it does not.
 */
import { Readable } from 'node:stream';
import { WireError } from '../../wire/errors.js';
import { decodeCapture, openCapture } from '../../wire/capture-reader.js';
import type { CaptureTruncation, PcapRecord } from '../../wire/pcap-format.js';
import { buildPcapFile } from '../../wire/pcap.js';
import { buildPcapngFile, buildPcapngFromFrames, PcapngBlock } from '../../wire/pcapng.js';
import { havoc } from '../byte-mutator.js';
import { captureFiles } from '../capture-seeds.js';
import { frameSeeds, pcapSeeds } from '../emitter-seeds.js';
import { check, FuzzViolation, tolerate, type FuzzInput, type FuzzTarget } from '../target.js';

const MAX_FILE = 64 * 1024;

/** The file cut into chunks: the plan's bytes are chunk sizes (cycled), so headers and blocks arrive split. */
function chunksOf(file: Buffer, plan: Buffer | undefined): Buffer[] {
  const out: Buffer[] = [];
  const p = plan !== undefined && plan.length > 0 ? plan : Buffer.from([255]);
  let at = 0;
  for (let i = 0; at < file.length; i++) {
    const b = p[i % p.length]!;
    const n = b === 255 ? file.length - at : b + 1;
    out.push(Buffer.from(file.subarray(at, at + n)));
    at += n;
  }
  return out;
}

/** Reads with openCapture: records yielded, the cut, and the error that ended the stream, if any. */
async function streamRead(file: Buffer, plan: Buffer | undefined): Promise<{ records: PcapRecord[]; truncated: CaptureTruncation | undefined; error: unknown }> {
  const records: PcapRecord[] = [];
  let reader;
  try {
    reader = await openCapture(Readable.from(chunksOf(file, plan)), { name: 'fuzz.pcap' });
  } catch (e) {
    return { records, truncated: undefined, error: e };
  }
  try {
    for await (const rec of reader) records.push(rec);
  } catch (e) {
    return { records, truncated: undefined, error: e };
  }
  return { records, truncated: reader.truncated, error: undefined };
}

/** The first few records of each committed capture, as pcap and as pcapng. */
function captureSeeds(): Buffer[] {
  return captureFiles().flatMap((f) => {
    const frames = f.frames.slice(0, 12).map((data, i) => ({ data, tsMs: 1_700_000_000_000 + i }));
    return [buildPcapFile(frames), buildPcapngFromFrames(frames, { byteOrder: 'BE', tsresol: 9 })];
  });
}

/** pcapng with what the reader must skip or handle: two sections of both orders, SPB, NRB, ISB, 2^-n units. */
function pcapngSeeds(): Buffer[] {
  const frames = frameSeeds().slice(0, 3);
  return [
    buildPcapngFromFrames(frames.map((data, i) => ({ data, tsMs: 1_700_000_000_000 + i * 0.125 }))),
    buildPcapngFile([
      { kind: 'shb' },
      { kind: 'idb', tsresol: 0x80 | 20, name: 'host0', snaplen: 128 },
      { kind: 'raw', type: PcapngBlock.NRB, body: Buffer.alloc(8) },
      { kind: 'epb', ts: 1n << 40n, data: frames[0] ?? Buffer.alloc(60) },
      { kind: 'spb', data: frames[1] ?? Buffer.alloc(60) },
      { kind: 'shb', byteOrder: 'BE' },
      { kind: 'idb', linkType: 113 },
      { kind: 'idb', tsresol: 9, tsOffsetSec: 5n },
      { kind: 'epb', iface: 1, ts: 123_456_789n, data: frames[2] ?? Buffer.alloc(60) },
      { kind: 'raw', type: PcapngBlock.ISB, body: Buffer.alloc(24) },
    ]),
  ];
}

export const pcapTarget: FuzzTarget = {
  name: 'pcap',
  description: 'decodeCapture and streaming openCapture on pcap and pcapng: PCAP_* errors only, records inside the file, cuts consistent, both readers agree',
  shape: 'bytes',
  weight: 1,
  coverageBatch: 16,
  seeds: () => [...pcapSeeds(), ...pcapngSeeds(), ...captureSeeds()].map((b, i): FuzzInput => [b, Buffer.from(i % 2 === 0 ? [255] : [3, 30, 200])]),
  mutate(parent, rng, donor) {
    const file = parent[0]!;
    const plan = parent[1] ?? Buffer.from([255]);
    if (rng.chance(0.2)) return [file, havoc(plan, rng, { maxLen: 16, donor: donor[1] })];
    return [havoc(file, rng, { maxLen: MAX_FILE, donor: donor[0] }), plan];
  },
  async execute(input) {
    const file = input[0]!;
    const sync = tolerate(() => decodeCapture(file, { name: 'fuzz.pcap' }), WireError);
    if (sync.ok) {
      const { records, truncated } = sync.value;
      for (const rec of records) {
        check(rec.caplen === rec.data.length, `caplen ${rec.caplen} but ${rec.data.length} bytes`);
        check(rec.data.buffer === file.buffer && rec.data.byteOffset >= file.byteOffset + 24 && rec.data.byteOffset + rec.data.length <= file.byteOffset + file.length, 'record data is not a view of the file');
        check(Number.isInteger(rec.tsNsec) && rec.tsNsec >= 0 && rec.tsNsec < 1e9, `tsNsec ${rec.tsNsec} is not a nanosecond count`);
      }
      if (truncated !== undefined) {
        check(truncated.atByte + truncated.bytes === file.length, `cut at ${truncated.atByte} + ${truncated.bytes} bytes, file of ${file.length}`);
        check(truncated.bytes > 0 && truncated.records === records.length, `cut says ${truncated.records} records before it, ${records.length} were read`);
        if (records.length > 0) {
          const last = records[records.length - 1]!.data;
          check(last.byteOffset - file.byteOffset + last.length <= truncated.atByte, 'a record lies after the cut');
        }
      }
      const frames = records.map((r) => ({ data: r.data, tsMs: 0 }));
      for (const [what, rewritten] of [
        ['pcap', () => buildPcapFile(frames)],
        ['pcapng', () => buildPcapngFromFrames(frames)],
      ] as const) {
        const again = tolerate(() => decodeCapture(rewritten()), WireError);
        check(again.ok, () => `decodeCapture refused buildPcap(ng)File's own ${what} file: ${again.ok ? '' : again.error.message}`);
        check(
          again.value.truncated === undefined && again.value.records.length === records.length && again.value.records.every((r, i) => r.data.equals(records[i]!.data)),
          `frames changed through a rewrite as ${what}`,
        );
      }
    }
    const st = await streamRead(file, input[1]);
    if (st.error !== undefined && !(st.error instanceof WireError)) throw st.error;
    if (sync.ok) {
      if (st.error !== undefined) throw new FuzzViolation('differential', `openCapture fails (${(st.error as Error).message}) on a file decodeCapture reads`);
      check(st.records.length === sync.value.records.length, `openCapture read ${st.records.length} records, decodeCapture ${sync.value.records.length}`);
      st.records.forEach((r, i) => {
        const w = sync.value.records[i]!;
        check(r.data.equals(w.data) && r.len === w.len && r.tsSec === w.tsSec && r.tsNsec === w.tsNsec, `record ${i} differs between the readers`);
      });
      const a = st.truncated;
      const b = sync.value.truncated;
      check(
        (a === undefined && b === undefined) || (a !== undefined && b !== undefined && a.atByte === b.atByte && a.bytes === b.bytes && a.what === b.what),
        () => `the readers see different cuts: ${JSON.stringify(a)} / ${JSON.stringify(b)}`,
      );
      return;
    }
    const code = (sync.error as WireError).code;
    if (st.error === undefined) throw new FuzzViolation('differential', `openCapture reads a file decodeCapture refuses (${code}: ${sync.error.message})`);
    check((st.error as WireError).code === code, () => `openCapture fails with ${(st.error as WireError).code}, decodeCapture with ${code} (${sync.error.message} / ${(st.error as Error).message})`);
  },
};
