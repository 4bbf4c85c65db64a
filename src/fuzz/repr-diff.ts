/**
 * Structural comparison of two reprs (what the oracles of round-trip and
 * differential targets compare): plain objects field by field with an
 * absent field equal to `undefined`, arrays element by element, byte
 * strings by content. Returns where they first differ, or undefined.
 */

function describe(v: unknown): string {
  if (v instanceof Uint8Array) return `<${v.length} bytes ${Buffer.from(v.subarray(0, 16)).toString('hex')}${v.length > 16 ? '…' : ''}>`;
  if (typeof v === 'bigint') return `${v}n`;
  if (typeof v === 'string') return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.length} items]`;
  if (v !== null && typeof v === 'object') return '{…}';
  return String(v);
}

/** The path and values of the first difference between `a` and `b`, or undefined when they are equal. */
export function reprDiff(a: unknown, b: unknown, path = '$'): string | undefined {
  if (a instanceof Uint8Array || b instanceof Uint8Array) {
    if (!(a instanceof Uint8Array) || !(b instanceof Uint8Array)) return `${path}: ${describe(a)} vs ${describe(b)}`;
    if (a.length !== b.length || !Buffer.from(a.buffer, a.byteOffset, a.length).equals(Buffer.from(b.buffer, b.byteOffset, b.length))) {
      return `${path}: ${describe(a)} vs ${describe(b)}`;
    }
    return undefined;
  }
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b)) return `${path}: ${describe(a)} vs ${describe(b)}`;
    if (a.length !== b.length) return `${path}.length: ${a.length} vs ${b.length}`;
    for (let i = 0; i < a.length; i++) {
      const d = reprDiff(a[i], b[i], `${path}[${i}]`);
      if (d !== undefined) return d;
    }
    return undefined;
  }
  if (a !== null && b !== null && typeof a === 'object' && typeof b === 'object') {
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    for (const k of keys) {
      const d = reprDiff((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], `${path}.${k}`);
      if (d !== undefined) return d;
    }
    return undefined;
  }
  if (Object.is(a, b) || (a === b)) return undefined;
  return `${path}: ${describe(a)} vs ${describe(b)}`;
}
