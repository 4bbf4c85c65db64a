/**
 * The one dependency rule of src/ (docs/design.md, "Layers"), checked on
 * every import: static, type-only, re-exports and dynamic import().
 *
 *   base ← wire ← nicemu ← host ← replay ← lab ← cli
 *   base ← wire ← target            (lab and cli start it)
 *   fuzz: anything but cli          peer: lab and below
 *
 * A failure names each import that reaches up, with its file and line.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const SRC = join(ROOT, 'src');

const BELOW_LAB = ['base', 'wire', 'nicemu', 'host', 'replay', 'target'];

/** Folder → the folders its files may import (its own always allowed). */
const MAY_IMPORT: Readonly<Record<string, readonly string[]>> = {
  base: [],
  wire: ['base'],
  nicemu: ['base', 'wire'],
  host: ['base', 'wire', 'nicemu'],
  replay: ['base', 'wire', 'nicemu', 'host'],
  target: ['base', 'wire'],
  lab: BELOW_LAB,
  cli: [...BELOW_LAB, 'lab', 'fuzz', 'peer'],
  fuzz: [...BELOW_LAB, 'lab'],
  peer: [...BELOW_LAB, 'lab'],
};

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...sourceFiles(p));
    else if (e.name.endsWith('.ts')) out.push(p);
  }
  return out;
}

/** The top folder under src/ of a path inside it, or undefined outside src/. */
function layerOf(path: string): string | undefined {
  const rel = relative(SRC, path);
  if (rel.startsWith('..') || !rel.includes(sep)) return undefined;
  return rel.split(sep)[0];
}

interface Violation {
  readonly from: string;
  readonly to: string;
  readonly line: number;
}

function violations(): { found: Violation[]; unknownLayers: string[] } {
  const found: Violation[] = [];
  const unknownLayers = new Set<string>();
  for (const file of sourceFiles(SRC)) {
    const from = layerOf(file);
    if (from === undefined) continue;
    if (MAY_IMPORT[from] === undefined) unknownLayers.add(from);
    const text = readFileSync(file, 'utf8');
    const info = ts.preProcessFile(text, true, true);
    for (const ref of info.importedFiles) {
      if (!ref.fileName.startsWith('.')) continue;
      const target = resolve(dirname(file), ref.fileName).replace(/\.js$/, '.ts');
      const to = layerOf(target);
      if (to === undefined || to === from) continue;
      if (MAY_IMPORT[from]?.includes(to) === true) continue;
      found.push({ from: relative(ROOT, file), to: relative(ROOT, target), line: text.slice(0, ref.pos).split('\n').length });
    }
  }
  return { found, unknownLayers: [...unknownLayers] };
}

describe('layers', () => {
  const { found, unknownLayers } = violations();

  it('every folder of src/ has a place in the rule', () => {
    expect(unknownLayers).toEqual([]);
  });

  it('no import in src/ reaches a higher layer', () => {
    expect(found.map((v) => `${v.from}:${v.line} imports ${v.to}`)).toEqual([]);
  });
});
