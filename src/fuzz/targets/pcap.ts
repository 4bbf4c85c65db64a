/**
 * Fuzz target for the pcap reader (src/wire/pcap.ts): a capture file
 * (part 0), read whole with parsePcapFile and streamed through openPcap in
 * chunks cut by a plan (part 1). Oracle: only WireError (PCAP_*) for bad
 * files, records that are views inside the file with caplen = data length,
 * a parse of buildPcapFile's rewrite gives the same frames, and the two
 * readers agree: the same records when the file is good, and for a bad file
 * the streaming reader fails too, with the same code.
 */
import { Readable } from 'node:stream';
import { WireError } from '../../wire/errors.js';
import { buildPcapFile, openPcap, parsePcapFile, type PcapRecord } from '../../wire/pcap.js';
import { havoc } from '../byte-mutator.js';
import { captureFiles } from '../capture-seeds.js';
import { pcapSeeds } from '../emitter-seeds.js';
import { check, FuzzViolation, tolerate, type FuzzInput, type FuzzTarget } from '../target.js';

const MAX_FILE = 64 * 1024;

/** The file cut into chunks: the plan's bytes are chunk sizes (cycled), so the header gate sees split headers. */
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

/** Reads with openPcap: records yielded and the error that ended the stream, if any. */
async function streamRead(file: Buffer, plan: Buffer | undefined): Promise<{ records: PcapRecord[]; error: unknown }> {
  const records: PcapRecord[] = [];
  let reader;
  try {
    reader = await openPcap(Readable.from(chunksOf(file, plan)), { name: 'fuzz.pcap' });
  } catch (e) {
    return { records, error: e };
  }
  try {
    for await (const rec of reader) records.push(rec);
  } catch (e) {
    return { records, error: e };
  }
  return { records, error: undefined };
}

/** The first few records of each committed capture, as a file. */
function captureSeeds(): Buffer[] {
  return captureFiles().map((f) => buildPcapFile(f.frames.slice(0, 12).map((data, i) => ({ data, tsMs: 1_700_000_000_000 + i }))));
}

export const pcapTarget: FuzzTarget = {
  name: 'pcap',
  description: 'parsePcapFile and streaming openPcap: PCAP_* errors only, records inside the file, both readers agree',
  shape: 'bytes',
  weight: 1,
  coverageBatch: 16,
  seeds: () => [...pcapSeeds(), ...captureSeeds()].map((b, i): FuzzInput => [b, Buffer.from(i % 2 === 0 ? [255] : [3, 30, 200])]),
  mutate(parent, rng, donor) {
    const file = parent[0]!;
    const plan = parent[1] ?? Buffer.from([255]);
    if (rng.chance(0.2)) return [file, havoc(plan, rng, { maxLen: 16, donor: donor[1] })];
    return [havoc(file, rng, { maxLen: MAX_FILE, donor: donor[0] }), plan];
  },
  async execute(input) {
    const file = input[0]!;
    const sync = tolerate(() => parsePcapFile(file, { name: 'fuzz.pcap' }), WireError);
    if (sync.ok) {
      for (const rec of sync.value.records) {
        check(rec.caplen === rec.data.length, `caplen ${rec.caplen} but ${rec.data.length} bytes`);
        check(rec.data.buffer === file.buffer && rec.data.byteOffset >= file.byteOffset + 24 && rec.data.byteOffset + rec.data.length <= file.byteOffset + file.length, 'record data is not a view of the file');
      }
      const again = tolerate(() => parsePcapFile(buildPcapFile(sync.value.records.map((r) => ({ data: r.data, tsMs: 0 })))), WireError);
      check(again.ok, () => `parsePcapFile refused buildPcapFile's own file: ${again.ok ? '' : again.error.message}`);
      check(
        again.value.records.length === sync.value.records.length && again.value.records.every((r, i) => r.data.equals(sync.value.records[i]!.data)),
        'frames changed through buildPcapFile',
      );
    }
    const st = await streamRead(file, input[1]);
    if (st.error !== undefined && !(st.error instanceof WireError)) throw st.error;
    if (sync.ok) {
      if (st.error !== undefined) throw new FuzzViolation('differential', `openPcap fails (${(st.error as Error).message}) on a file parsePcapFile reads`);
      check(st.records.length === sync.value.records.length, `openPcap read ${st.records.length} records, parsePcapFile ${sync.value.records.length}`);
      st.records.forEach((r, i) => {
        const w = sync.value.records[i]!;
        check(r.data.equals(w.data) && r.len === w.len && r.tsSec === w.tsSec && r.tsNsec === w.tsNsec, `record ${i} differs between the readers`);
      });
      return;
    }
    const code = (sync.error as WireError).code;
    if (st.error === undefined) throw new FuzzViolation('differential', `openPcap reads a file parsePcapFile refuses (${code}: ${sync.error.message})`);
    check((st.error as WireError).code === code, () => `openPcap fails with ${(st.error as WireError).code}, parsePcapFile with ${code} (${sync.error.message} / ${(st.error as Error).message})`);
  },
};
