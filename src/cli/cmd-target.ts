/**
 * `ddplab target`: run the NVMe/TCP target emulator on a kernel TCP socket
 * until SIGINT/SIGTERM. Flags map one to one onto TargetOptions; values are
 * parsed here and validated by resolveTargetOptions, and any bad value
 * becomes one UserError line.
 */
import type { Command } from 'commander';
import { HostileSpecError, HOSTILE_CASES, parseHostileSpec } from '../target/hostile-spec.js';
import { startTarget } from '../target/listener.js';
import { resolveTargetOptions, TargetOptionError, type TargetOptions, type TargetOptionsInput } from '../target/options.js';
import { sumQueueStats } from '../target/stats.js';
import { UserError } from '../base/errors.js';

interface RawFlags {
  listen?: string;
  profile?: string;
  nqn?: string;
  size?: string;
  lbaSize?: string;
  file?: string;
  seed?: string;
  order?: string;
  interleave?: boolean;
  batch?: string;
  delayUs?: string;
  c2hSize?: string;
  cpda?: string;
  digest?: string;
  c2hSuccess?: boolean;
  incapsule?: string;
  maxh2cdata?: string;
  maxIo?: string;
  mdts?: string;
  queues?: string;
  queueSize?: string;
  readyDelayMs?: string;
  kasMs?: string;
  hostile?: string;
  json?: boolean;
  quiet?: boolean;
}

export { parseBytes, parseUint } from './byte-flags.js';
import { parseBytes, parseUint } from './byte-flags.js';


function oneOf<T extends string>(flag: string, text: string, allowed: readonly T[]): T {
  if ((allowed as readonly string[]).includes(text)) return text as T;
  throw new UserError('BAD_FLAG', `--${flag}: '${text}' is not one of ${allowed.join(', ')}`);
}

/** "ADDR:PORT", "[v6]:PORT", "ADDR" or ":PORT". */
export function parseListen(text: string): { host: string | undefined; port: number | undefined } {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]*))(?::(\d+))?$/.exec(text.trim());
  if (!m) throw new UserError('BAD_FLAG', `--listen: '${text}' is not ADDR:PORT`);
  const host = m[1] ?? (m[2] !== undefined && m[2] !== '' ? m[2] : undefined);
  const port = m[3] !== undefined ? Number(m[3]) : undefined;
  if (port !== undefined && port > 65535) throw new UserError('BAD_FLAG', `--listen: port ${port} is not in 0..65535`);
  return { host, port };
}

/** Turns the command line into validated TargetOptions (UserError on the first bad value). */
export function targetOptionsFromFlags(f: RawFlags): TargetOptions {
  const input: { -readonly [K in keyof TargetOptionsInput]: TargetOptionsInput[K] } = {};
  if (f.listen !== undefined) {
    const { host, port } = parseListen(f.listen);
    if (host !== undefined) input.host = host;
    if (port !== undefined) input.port = port;
  }
  if (f.profile !== undefined) input.profile = oneOf('profile', f.profile, ['linux', 'spdk'] as const);
  if (f.nqn !== undefined) input.subsysNqn = f.nqn;
  if (f.size !== undefined) input.sizeBytes = parseBytes('size', f.size);
  if (f.lbaSize !== undefined) {
    const v = parseBytes('lba-size', f.lbaSize);
    if (v !== 512 && v !== 4096) throw new UserError('BAD_FLAG', `--lba-size: ${v} is not 512 or 4096`);
    input.lbaSize = v;
  }
  if (f.file !== undefined) input.file = f.file;
  if (f.seed !== undefined) input.seed = parseUint('seed', f.seed);
  if (f.order !== undefined) input.order = oneOf('order', f.order, ['fifo', 'random', 'reverse'] as const);
  if (f.interleave !== undefined) input.interleave = f.interleave;
  if (f.batch !== undefined) input.batchMax = parseUint('batch', f.batch);
  if (f.delayUs !== undefined) input.delayUs = parseUint('delay-us', f.delayUs);
  if (f.c2hSize !== undefined) input.c2hSizeBytes = parseBytes('c2h-size', f.c2hSize);
  if (f.cpda !== undefined) input.cpda = parseUint('cpda', f.cpda);
  if (f.digest !== undefined) input.digest = oneOf('digest', f.digest, ['none', 'header', 'data', 'both'] as const);
  if (f.c2hSuccess !== undefined) input.c2hSuccess = f.c2hSuccess;
  if (f.incapsule !== undefined) input.inCapsuleBytes = parseBytes('incapsule', f.incapsule);
  if (f.maxh2cdata !== undefined) input.maxH2CDataBytes = parseBytes('maxh2cdata', f.maxh2cdata);
  if (f.maxIo !== undefined && f.mdts !== undefined) throw new UserError('BAD_FLAG', 'give --max-io or --mdts, not both');
  if (f.maxIo !== undefined) input.maxIoBytes = parseBytes('max-io', f.maxIo);
  if (f.mdts !== undefined) {
    const mdts = parseUint('mdts', f.mdts);
    if (mdts > 13) throw new UserError('BAD_FLAG', `--mdts: ${mdts} is above 13 (32 MiB)`);
    input.maxIoBytes = mdts === 0 ? 0 : 4096 * 2 ** mdts;
  }
  if (f.queues !== undefined) input.maxIoQueues = parseUint('queues', f.queues);
  if (f.queueSize !== undefined) input.maxQueueSize = parseUint('queue-size', f.queueSize);
  if (f.readyDelayMs !== undefined) input.readyDelayMs = parseUint('ready-delay-ms', f.readyDelayMs);
  if (f.kasMs !== undefined) input.kasMs = parseUint('kas-ms', f.kasMs);
  if (f.hostile !== undefined) {
    try {
      input.hostile = parseHostileSpec(f.hostile);
    } catch (e) {
      if (e instanceof HostileSpecError) throw new UserError('BAD_FLAG', `--hostile: ${e.message}`);
      throw e;
    }
  }
  try {
    return resolveTargetOptions(input);
  } catch (e) {
    if (e instanceof TargetOptionError) throw new UserError('BAD_FLAG', `--${e.option}: ${e.message}`);
    throw e;
  }
}

function humanBytes(n: number): string {
  for (const [unit, size] of [['GiB', 1024 ** 3], ['MiB', 1024 ** 2], ['KiB', 1024]] as const) {
    if (n >= size && n % size === 0) return `${n / size} ${unit}`;
  }
  return `${n} B`;
}

export function registerTargetCommand(program: Command): void {
  program
    .command('target')
    .description(
      'Run the NVMe/TCP target emulator: one subsystem, one namespace (deterministic pattern + written overlay), ' +
        'on a kernel TCP socket, with seeded knobs that stress a receiver. Runs until SIGINT/SIGTERM.',
    )
    .option('--listen <addr:port>', 'address and TCP port to listen on (port 0 picks one)', '192.0.2.1:4420')
    .option('--profile <name>', 'defaults to imitate: linux (nvmet-tcp) or spdk', 'linux')
    .option('--nqn <nqn>', 'subsystem NQN hosts must connect to (default nqn.2026-11.io.ddplab:target)')
    .option('--size <bytes>', 'namespace size, e.g. 1GiB (default 1 GiB; nothing is allocated up front)')
    .option('--lba-size <bytes>', 'logical block size: 512 or 4096 (default 512)')
    .option('--file <path>', 'back the namespace with this file instead of pattern + overlay (created sparse)')
    .option('--seed <n>', 'u32 seed of the block pattern and of every random choice (default 1)')
    .option('--order <order>', 'completion order within a batch of I/O completions: fifo, random or reverse (default fifo)')
    .option('--interleave', 'interleave the C2HData PDUs of different reads of a batch (needs reads split by --c2h-size)')
    .option('--batch <n>', 'most I/O completions held in one batch before release (default 64)')
    .option('--delay-us <us>', 'hold each batch of I/O completions this long; widens the reorder window (default 0, ~1 ms resolution)')
    .option('--c2h-size <bytes>', 'largest C2HData payload; 0 = whole transfer in one PDU (linux 0, spdk 128k)')
    .option('--cpda <n>', 'CPDA sent in ICResp, 0..31: H2C data alignment (n+1)*4 bytes (default 0)')
    .option('--digest <which>', 'digests the target accepts: none, header, data or both; used when the host asks (default both)')
    .option('--c2h-success', 'end reads with C2HData SUCCESS and no CapsuleResp when the host disabled SQ flow control (spdk default)')
    .option('--no-c2h-success', 'always send a CapsuleResp after read data (linux default)')
    .option('--incapsule <bytes>', 'in-capsule data accepted on I/O queues, IOCCSZ (linux 16k, spdk 4k); admin takes 8k')
    .option('--maxh2cdata <bytes>', 'MAXH2CDATA in ICResp; also the R2T size limit (linux 0x400000, spdk 128k)')
    .option('--max-io <bytes>', 'largest transfer per command, advertised as MDTS; 0 = MDTS 0 (linux 0, spdk 128k)')
    .option('--mdts <n>', 'same as --max-io 4096*2^n; 0 = no limit advertised')
    .option('--queues <n>', 'most I/O queues per controller (linux 128, spdk 127)')
    .option('--queue-size <n>', 'largest queue size, CAP.MQES+1 (linux 1024, spdk 128)')
    .option('--ready-delay-ms <ms>', 'CSTS.RDY follows CC.EN after this long (default 0)')
    .option('--kas-ms <ms>', 'Keep Alive granularity KAS, multiple of 100 (linux 5000, spdk 10000)')
    .option(
      '--hostile <case[@qid][:after=N]>',
      `break one read response on I/O queue QID (default 1) after N intact ones (default 0); CASE: ${HOSTILE_CASES.join(', ')}`,
    )
    .option('--json', 'print the target and per-queue stats as JSON on exit')
    .option('--quiet', 'no per-connection log lines on stderr')
    .action(async (flags: RawFlags) => {
      const opts = targetOptionsFromFlags(flags);
      const target = await startTarget(opts, {
        log: flags.quiet === true ? undefined : (line: string) => process.stderr.write(`ddplab target: ${line}\n`),
      }).catch((e: unknown) => {
        const err = e as NodeJS.ErrnoException;
        if (typeof err.code === 'string' && err.code.startsWith('E')) {
          throw new UserError('LISTEN', `cannot listen on ${opts.host}:${opts.port}: ${err.code} (${err.message})`);
        }
        throw e;
      });
      process.stdout.write(
        `listening on ${target.address}:${target.port} nqn ${opts.subsysNqn} profile ${opts.profile} ` +
          `namespace ${humanBytes(opts.sizeBytes)} lba ${opts.lbaSize} seed ${opts.seed}\n`,
      );
      await new Promise<void>((resolve) => {
        const stop = (): void => {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          resolve();
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
      });
      await target.close();
      if (flags.json === true) {
        const stats = target.stats;
        process.stdout.write(`${JSON.stringify({ ...stats, totals: sumQueueStats(stats.queues) }, null, 2)}\n`);
      }
    });
}
