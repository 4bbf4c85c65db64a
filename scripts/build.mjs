#!/usr/bin/env node
// Compiles the ddplab command to JavaScript in dist/ so the ddplab command starts
// without transpiling TypeScript at every start (each process of a run used
// to spend most of a second on it). A transpile only: type checking is
// `npm run typecheck` / `npm test`. bin/ddplab.js uses dist/ only while it is
// newer than every source file, and falls back to the sources otherwise, so
// a stale or missing build can slow ddplab down but never change what runs.
//
//   node scripts/build.mjs           build when dist/ is stale (quiet when not)
//   node scripts/build.mjs --force   build anyway
import { appendFileSync, mkdirSync, readdirSync, renameSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const src = join(root, 'src');
const dist = join(root, 'dist');
const stamp = join(dist, '.built');

function sources(dir, out = []) {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) sources(p, out);
    else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

function newestMtimeMs(files) {
  let m = 0;
  for (const f of files) m = Math.max(m, statSync(f).mtimeMs);
  return m;
}

const files = sources(src);
const force = process.argv.includes('--force');
let stampMs = 0;
try {
  stampMs = statSync(stamp).mtimeMs;
} catch {
  // no build yet
}
if (!force && stampMs > newestMtimeMs(files)) process.exit(0);

const { build } = await import('esbuild');
const t0 = performance.now();
// The stamp carries the time the build started: a source saved during the build is newer than it, so stale.
const startedAt = new Date();
const cliDir = join(dist, 'cli');
mkdirSync(cliDir, { recursive: true });
// The command's entry, dist/cli/main.js, and a chunk per command module
// (src/cli/commands.ts imports a command's module only when it runs) plus
// the chunks they share: `ddplab --help` reads the entry and commander, not
// the NIC, the host stack or the target. Packages stay external (native
// addons load from node_modules). Every file sits in dist/cli/, two levels
// down like src/cli/*.ts, so paths the modules resolve against
// import.meta.url (../../netns/, ../../bin/, ../../captures/) stay right.
//
// Another ddplab may be starting from dist/ right now: the build goes to a
// folder of its own; chunks are named by content hash, so they are copied
// in beside the old ones (a process started from the old entry still finds
// its chunks), and the entry is renamed into place last (atomic). Chunks no
// build has used for an hour are removed.
const stage = join(dist, `.stage-${process.pid}`);
rmSync(stage, { recursive: true, force: true });
let result;
try {
  result = await build({
    // The NIC thread's script (src/nicemu/thread/) is a second entry: a worker starts from a file.
    entryPoints: [join(src, 'cli/main.ts'), join(src, 'nicemu/thread/nic-worker.ts')],
    outdir: stage,
    entryNames: '[name]',
    chunkNames: '[name]-[hash]',
    bundle: true,
    splitting: true,
    metafile: true,
    external: ['pcap', 'raw-socket', 'sse4_crc32', 'esbuild', 'tsx', 'vitest'],
    format: 'esm',
    platform: 'node',
    target: 'node20',
    sourcemap: 'external',
    logLevel: 'warning',
    // CommonJS packages inside an ESM bundle call require() for node: built-ins.
    banner: { js: "import { createRequire as __ddplabCreateRequire } from 'node:module'; const require = __ddplabCreateRequire(import.meta.url);" },
  });
} catch (e) {
  rmSync(stage, { recursive: true, force: true });
  throw e;
}
const outputs = readdirSync(stage);
const now = Date.now();
for (const f of outputs) {
  if (f === 'main.js' || f === 'main.js.map') continue;
  if (f.endsWith('.js')) appendFileSync(join(stage, f), `//# sourceMappingURL=${f}.map\n`);
}
for (const f of outputs) if (f !== 'main.js') renameSync(join(stage, f), join(cliDir, f));
appendFileSync(join(stage, 'main.js'), '//# sourceMappingURL=main.js.map\n');
renameSync(join(stage, 'main.js'), join(cliDir, 'main.js'));
rmSync(stage, { recursive: true, force: true });
writeFileSync(join(dist, 'meta.json'), JSON.stringify(result.metafile));
for (const f of readdirSync(cliDir)) {
  if (outputs.includes(f)) continue;
  const p = join(cliDir, f);
  if (now - statSync(p).mtimeMs > 3600_000) rmSync(p, { force: true });
}
writeFileSync(stamp, `${new Date().toISOString()}\n`);
utimesSync(stamp, startedAt, startedAt);
const chunks = outputs.filter((f) => f.endsWith('.js')).length;
process.stdout.write(`build: ${files.length} files bundled into dist/cli/main.js and ${chunks - 1} chunks in ${Math.round(performance.now() - t0)} ms\n`);
