/**
 * The lazy start (src/cli/commands.ts, scripts/build.mjs): bundled as the
 * build bundles it, what `ddplab --help` loads — the entry and the chunks it
 * imports statically — holds no command's code, and what `ddplab run
 * --help`, `host --help` and their refusals load (that plus the command's
 * chunk) holds no part of the NIC, the host stack, the target, pcap,
 * raw-socket or the crc32c addon. How fast that is: npm run bench:start.
 */
import { fileURLToPath } from 'node:url';
import { build, type Metafile } from 'esbuild';
import { beforeAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

let meta: Metafile;

beforeAll(async () => {
  const r = await build({
    absWorkingDir: ROOT,
    entryPoints: ['src/cli/main.ts'],
    outdir: 'dist-test-never-written',
    entryNames: '[name]',
    chunkNames: '[name]-[hash]',
    bundle: true,
    splitting: true,
    write: false,
    metafile: true,
    external: ['pcap', 'raw-socket', 'sse4_crc32', 'esbuild', 'tsx', 'vitest'],
    format: 'esm',
    platform: 'node',
    target: 'node20',
    logLevel: 'silent',
  });
  meta = r.metafile;
}, 60_000);

/** Source files and packages loaded before any dynamic import: the entry's static closure, plus a command's chunk. */
function loadedFor(command: string | undefined): { sources: string[]; externals: string[] } {
  const outs = meta.outputs;
  const start = [Object.keys(outs).find((o) => o.endsWith('/main.js'))!];
  if (command !== undefined) {
    const chunk = Object.keys(outs).find((o) => outs[o]!.entryPoint === `src/cli/cmd-${command}.ts`);
    expect(chunk, `a chunk of its own for cmd-${command}.ts`).toBeDefined();
    start.push(chunk!);
  }
  const seen = new Set<string>();
  const externals = new Set<string>();
  const stack = [...start];
  while (stack.length > 0) {
    const o = stack.pop()!;
    if (seen.has(o)) continue;
    seen.add(o);
    for (const i of outs[o]!.imports) {
      if (i.kind !== 'import-statement') continue;
      if (i.external) externals.add(i.path);
      else stack.push(i.path);
    }
  }
  const sources = new Set<string>();
  for (const o of seen) for (const input of Object.keys(outs[o]!.inputs)) if (input.startsWith('src/')) sources.add(input);
  return { sources: [...sources].sort(), externals: [...externals].sort() };
}

/** What neither --help nor a refusal may load. */
const HEAVY = [
  /^src\/nicemu\/nic\.ts$/,
  /^src\/nicemu\/ddp\/(engine|offload)\.ts$/,
  /^src\/nicemu\/devmem\//,
  /^src\/host\/net\/host-stack\.ts$/,
  /^src\/host\/net\/tcp-/,
  /^src\/host\/nvme\/(controller|queue|ddp)\.ts$/,
  /^src\/host\/devmem\//,
  /^src\/lab\/(host-run|run|topology|child|devmem-host)\.ts$/,
  /^src\/target\/(?!hostile-spec\.ts$|defaults\.ts$)/,
  /^src\/wire\/crc32c\.ts$/,
];

describe('lazy start', () => {
  it('ddplab --help loads no command module', () => {
    const { sources, externals } = loadedFor(undefined);
    expect(sources.filter((s) => /^src\/cli\/cmd-/.test(s))).toEqual([]);
    expect(sources.every((s) => /^src\/(cli|base)\/|^src\/lab\/(invoked-command|interrupt)\.ts$/.test(s)), sources.join(' ')).toBe(true);
    expect(externals.filter((e) => !e.startsWith('node:'))).toEqual([]);
  });

  for (const command of ['run', 'host'] as const) {
    it(`ddplab ${command} --help and its refusals load neither the NIC, the host stack, the target nor a native addon`, () => {
      const { sources, externals } = loadedFor(command);
      expect(sources).toContain(`src/cli/cmd-${command}.ts`);
      expect(sources.filter((s) => HEAVY.some((h) => h.test(s)))).toEqual([]);
      expect(externals.filter((e) => !e.startsWith('node:'))).toEqual([]);
      // Other commands stay out.
      expect(sources.filter((s) => /^src\/cli\/cmd-(bench|replay|peer|target|demo)\.ts$/.test(s))).toEqual([]);
    });
  }

  it('the check sees heavy modules where a command does load them up front (bench: the run orchestration)', () => {
    const { sources } = loadedFor('bench');
    expect(sources.filter((s) => HEAVY.some((h) => h.test(s)))).toContain('src/lab/run.ts');
  });
});
