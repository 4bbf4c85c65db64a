/**
 * A few lines of WebAssembly assembler for the two hot loops that profit
 * from 128-bit SIMD: the block pattern (block-pattern.ts, four mix32 hashes
 * per step) and the Internet checksum (inet-checksum.ts, eight 16-bit words
 * per step). Each is one exported function over the module's own memory:
 * the caller copies its bytes in or out at memcpy speed. Where WebAssembly
 * or its SIMD is missing (e.g. node --jitless), `instantiateSimd` returns
 * undefined and the callers keep their JavaScript loops.
 *
 * Encoding: the WebAssembly core binary format (magic, version, then
 * sections type 1, function 3, memory 5, export 7, code 10); SIMD
 * instructions are the 0xfd prefix and a LEB128 opcode.
 */

/** Unsigned LEB128. */
export function leb128(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
}

/** A SIMD instruction: the prefix and its opcode. */
export function simdOp(op: number): number[] {
  return [0xfd, ...leb128(op)];
}

/** v128.const with the four i32 lanes given (little-endian). */
export function i32x4Const(l0: number, l1 = l0, l2 = l0, l3 = l0): number[] {
  const bytes = (v: number): number[] => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
  return [...simdOp(0x0c), ...bytes(l0), ...bytes(l1), ...bytes(l2), ...bytes(l3)];
}

/** The SIMD and core opcodes the two modules use. */
export const Op = {
  LOCAL_GET: 0x20,
  LOCAL_SET: 0x21,
  LOCAL_TEE: 0x22,
  I32_CONST: 0x41,
  I32_ADD: 0x6a,
  I32_GE_U: 0x4f,
  BLOCK: 0x02,
  LOOP: 0x03,
  BR: 0x0c,
  BR_IF: 0x0d,
  END: 0x0b,
  /** Block type: no result. */
  VOID: 0x40,
  V128_LOAD: 0x00,
  V128_STORE: 0x0b,
  I32X4_SPLAT: 0x11,
  I32X4_EXTRACT_LANE: 0x1b,
  V128_XOR: 0x51,
  I32X4_EXTADD_PAIRWISE_I16X8_U: 0x7f,
  I32X4_SHR_U: 0xad,
  I32X4_ADD: 0xae,
  I32X4_MUL: 0xb5,
} as const;

export const ValType = { I32: 0x7f, V128: 0x7b } as const;

export interface SimdFunctionSpec {
  readonly name: string;
  readonly params: readonly number[];
  readonly results: readonly number[];
  /** Local declarations after the params: [count, type] pairs. */
  readonly locals: readonly (readonly [number, number])[];
  /** The body's instructions, without the final `end`. */
  readonly code: readonly number[];
  /** Pages (64 KiB) of the module's memory, exported as "mem". */
  readonly memoryPages: number;
}

/** The bytes of a module with one exported function and one exported memory. */
export function simdModuleBytes(spec: SimdFunctionSpec): Uint8Array {
  const section = (id: number, bytes: number[]): number[] => [id, ...leb128(bytes.length), ...bytes];
  const name = (s: string): number[] => [s.length, ...Array.from(s, (c) => c.charCodeAt(0))];
  const body = [...leb128(spec.locals.length), ...spec.locals.flatMap(([n, t]) => [...leb128(n), t]), ...spec.code, Op.END];
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, [1, 0x60, spec.params.length, ...spec.params, spec.results.length, ...spec.results]),
    ...section(3, [1, 0]),
    ...section(5, [1, 0, ...leb128(spec.memoryPages)]),
    ...section(7, [2, ...name(spec.name), 0, 0, ...name('mem'), 2, 0]),
    ...section(10, [1, ...leb128(body.length), ...body]),
  ]);
}

/** The part of the WebAssembly API used here (the project's type libraries do not declare its values). */
interface WasmApi {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object) => { exports: Record<string, unknown> };
}

export interface SimdInstance<F> {
  readonly fn: F;
  /** The module's memory (it never grows, so this view stays valid). */
  readonly mem: Uint8Array;
}

const HOST_IS_LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/**
 * The module's function and memory, or undefined where WebAssembly SIMD is
 * not available (or the host is big-endian, where the callers' byte order
 * reasoning would not hold).
 */
export function instantiateSimd<F>(spec: SimdFunctionSpec): SimdInstance<F> | undefined {
  const wasm = (globalThis as { WebAssembly?: WasmApi }).WebAssembly;
  if (!HOST_IS_LITTLE_ENDIAN || wasm === undefined) return undefined;
  try {
    const bytes = simdModuleBytes(spec);
    if (!wasm.validate(bytes)) return undefined;
    const ex = new wasm.Instance(new wasm.Module(bytes)).exports;
    return { fn: ex[spec.name] as F, mem: new Uint8Array((ex['mem'] as { buffer: ArrayBuffer }).buffer) };
  } catch {
    return undefined;
  }
}
