#!/usr/bin/env node
// Compiles the ddplab command to one JavaScript file in dist/ so the ddplab command starts
// without transpiling TypeScript at every start (each process of a run used
// to spend most of a second on it). A transpile only: type checking is
// `npm run typecheck` / `npm test`. bin/ddplab.js uses dist/ only while it is
// newer than every source file, and falls back to the sources otherwise, so
// a stale or missing build can slow ddplab down but never change what runs.
//
//   node scripts/build.mjs           build when dist/ is stale (quiet when not)
//   node scripts/build.mjs --force   build anyway
import { appendFileSync, mkdirSync, readdirSync, renameSync, statSync, writeFileSync } from 'node:fs';
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
mkdirSync(join(dist, 'cli'), { recursive: true });
// One bundle for the command: loading one file is much faster than resolving
// and reading ~180 modules at every start. Packages stay external (native
// addons load from node_modules). The bundle sits at dist/cli/main.js, two
// levels down like src/cli/main.ts, so paths the CLI's modules resolve
// against import.meta.url (../../netns/, ../../bin/, ../../captures/) stay
// right.
// Another ddplab may be starting from dist/ right now: write the bundle
// beside it and rename it into place (atomic), never remove it first.
const out = join(dist, 'cli/main.js');
const tmp = join(dist, `cli/.main.${process.pid}`);
await build({
  entryPoints: [join(src, 'cli/main.ts')],
  outfile: `${tmp}.js`,
  bundle: true,
  external: ['pcap', 'raw-socket', 'sse4_crc32', 'esbuild', 'tsx', 'vitest'],
  format: 'esm',
  platform: 'node',
  target: 'node20',
  sourcemap: 'external',
  logLevel: 'warning',
  // CommonJS packages inside an ESM bundle call require() for node: built-ins.
  banner: { js: "import { createRequire as __ddplabCreateRequire } from 'node:module'; const require = __ddplabCreateRequire(import.meta.url);" },
});
appendFileSync(`${tmp}.js`, '//# sourceMappingURL=main.js.map\n');
renameSync(`${tmp}.js.map`, `${out}.map`);
renameSync(`${tmp}.js`, out);
writeFileSync(stamp, `${new Date().toISOString()}\n`);
process.stdout.write(`build: ${files.length} files bundled into dist/cli/main.js in ${Math.round(performance.now() - t0)} ms\n`);
