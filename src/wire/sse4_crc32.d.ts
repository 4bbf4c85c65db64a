/**
 * Types for the native `sse4_crc32` package (CommonJS, no bundled types).
 * Only what src/wire/crc32c.ts uses.
 */
declare module 'sse4_crc32' {
  interface Sse4Crc32 {
    /**
     * CRC32C of `input`. `initialCrc` is the finished CRC of the bytes before
     * (0 to start fresh), so calls chain across fragments. Always pass a
     * number: the addon rejects an explicit `undefined`.
     */
    calculate(input: Uint8Array | string, initialCrc: number): number;
    /** True when the SSE 4.2 instruction is used instead of the table. */
    readonly hardware_support?: boolean;
  }
  const sse4: Sse4Crc32;
  export = sse4;
}
