/**
 * Fuzz target for the NVMe command and data codecs (src/wire/nvme-sqe.ts,
 * nvme-cqe.ts, nvme-command.ts, nvme-fabrics.ts, nvme-identify.ts,
 * nvme-io.ts, nvme-admin.ts, nvme-registers.ts): what a target reads out of
 * a CapsuleCmd and a host out of a CapsuleResp or C2H data. The plan's first
 * byte says which decoder gets the bytes. Oracle: WireError only, and
 * parse(emit(parse(x))) equals parse(x) whenever the emitter takes the repr.
 */
import { WireError } from '../../wire/errors.js';
import { buildCqe, parseCqe } from '../../wire/nvme-cqe.js';
import { buildNvmeCommand, parseNvmeCommand } from '../../wire/nvme-command.js';
import { buildConnectData, parseConnectData } from '../../wire/nvme-fabrics.js';
import { buildIdCtrl, buildIdNs, buildNsList, parseIdCtrl, parseIdNs, parseNsList } from '../../wire/nvme-identify.js';
import { encodeCap, encodeCc, encodeCsts, encodeVersion, parseCap, parseCc, parseCsts, parseVersion } from '../../wire/nvme-registers.js';
import { buildSqe, parseSqe } from '../../wire/nvme-sqe.js';
import { mutateBytesInput } from '../bytes-input-mutator.js';
import { cqeSeeds, nvmeDataSeeds, sqeSeeds } from '../emitter-seeds.js';
import { pduHeaderFields, type Field } from '../field-mutator.js';
import { reprDiff } from '../repr-diff.js';
import { FuzzViolation, tolerate, type FuzzTarget } from '../target.js';

interface Codec {
  readonly name: string;
  parse(buf: Buffer): unknown;
  emit(repr: unknown): Buffer | bigint | number;
  /** What emit's output parses with (default: parse). */
  reparse?(out: Buffer | bigint | number): unknown;
}

function u64(buf: Buffer): bigint {
  if (buf.length < 8) throw new WireError('TRUNCATED', 'need 8 bytes');
  return buf.readBigUInt64LE(0);
}

function u32(buf: Buffer): number {
  if (buf.length < 4) throw new WireError('TRUNCATED', 'need 4 bytes');
  return buf.readUInt32LE(0);
}

/** A controller register: its value read from the input, decoded; what encode returns is the value again. */
function registerCodec<V extends bigint | number, R>(name: string, read: (buf: Buffer) => V, decode: (v: V) => R, encode: (r: R) => V): Codec {
  return { name, parse: (b) => decode(read(b)), emit: (r) => encode(r as R), reparse: (v) => decode(v as V) };
}

/** Decoders by plan byte; emit takes what parse returned (typed per codec by construction). */
const CODECS: readonly Codec[] = [
  { name: 'sqe', parse: (b) => parseSqe(b), emit: (r) => buildSqe(r as ReturnType<typeof parseSqe>) },
  { name: 'cqe', parse: (b) => parseCqe(b), emit: (r) => buildCqe(r as ReturnType<typeof parseCqe>) },
  { name: 'admin command', parse: (b) => parseNvmeCommand(b, 'admin'), emit: (r) => buildNvmeCommand(r as ReturnType<typeof parseNvmeCommand>) },
  { name: 'io command', parse: (b) => parseNvmeCommand(b, 'io'), emit: (r) => buildNvmeCommand(r as ReturnType<typeof parseNvmeCommand>) },
  { name: 'connect data', parse: (b) => parseConnectData(b), emit: (r) => buildConnectData(r as ReturnType<typeof parseConnectData>) },
  { name: 'identify controller', parse: (b) => parseIdCtrl(b), emit: (r) => buildIdCtrl(r as ReturnType<typeof parseIdCtrl>) },
  { name: 'identify namespace', parse: (b) => parseIdNs(b), emit: (r) => buildIdNs(r as ReturnType<typeof parseIdNs>) },
  { name: 'namespace list', parse: (b) => parseNsList(b), emit: (r) => buildNsList(r as number[]) },
  registerCodec('CAP', u64, parseCap, encodeCap),
  registerCodec('CC', u32, parseCc, encodeCc),
  registerCodec('CSTS', u32, parseCsts, encodeCsts),
  registerCodec('VS', u32, parseVersion, encodeVersion),
];

/** SQE/CQE fields located as inside a capsule (the PDU field table with the 8-byte common header in front). */
function capsuleFields(type: number): (buf: Buffer) => Field[] {
  return (buf) => {
    const framed = Buffer.concat([Buffer.from([type, 0, type === 4 ? 72 : 24, 0, 0, 0, 0, 0]), buf]);
    return pduHeaderFields(framed, 0)
      .filter((f) => f.at >= 8)
      .map((f) => ({ ...f, at: f.at - 8 }))
      .filter((f) => f.at + f.width <= buf.length);
  };
}

const sqeFields = capsuleFields(4);

export const nvmeTarget: FuzzTarget = {
  name: 'nvme',
  description: 'SQE/CQE/command/Connect/Identify/register codecs: typed errors only, parse(emit(parse(x))) === parse(x)',
  shape: 'bytes',
  weight: 1,
  coverageBatch: 512,
  seeds: () => [
    ...sqeSeeds().flatMap((b) => [[b, Buffer.from([0])], [b, Buffer.from([2])], [b, Buffer.from([3])]]),
    ...cqeSeeds().map((b) => [b, Buffer.from([1])]),
    ...nvmeDataSeeds().map((b, i) => [b, Buffer.from([4 + i])]),
    [Buffer.from('0104ff0f3c000000', 'hex'), Buffer.from([8])],
    [Buffer.from('01004600', 'hex'), Buffer.from([9])],
    [Buffer.from('01000000', 'hex'), Buffer.from([10])],
    [Buffer.from('00040100', 'hex'), Buffer.from([11])],
  ],
  mutate: (parent, rng, donor) => mutateBytesInput(parent, rng, donor, { maxLen: 4200, fields: sqeFields, maxPlanLen: 2 }),
  execute(input) {
    const buf = input[0]!;
    const plan = input[1];
    const codec = CODECS[(plan === undefined || plan.length === 0 ? 0 : plan[0]!) % CODECS.length]!;
    const r = tolerate(() => codec.parse(buf), WireError);
    if (!r.ok) return;
    const e = tolerate(() => codec.emit(r.value), WireError);
    // An emitter may refuse values the decoder passes through (reserved encodings); that is a typed answer.
    if (!e.ok) return;
    const out = e.value;
    const back = tolerate(() => (codec.reparse !== undefined ? codec.reparse(out) : codec.parse(out as Buffer)), WireError);
    if (!back.ok) throw new FuzzViolation('invariant', `${codec.name}: parse refused the emitter's own output: ${back.error.message}`);
    const d = reprDiff(r.value, back.value);
    if (d !== undefined) throw new FuzzViolation('invariant', `${codec.name}: parse → emit → parse changed ${d}`);
  },
};
