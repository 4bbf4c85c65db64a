import { describe, expect, it } from 'vitest';
import { decodeInput, encodeInput, encodeInputInto, FuzzInputFileError, inputToBase64 } from '../../src/fuzz/input-file.js';

const INPUT = [Buffer.from('params'), Buffer.alloc(0), Buffer.from([1, 2, 3, 255])];

describe('fuzz input files', () => {
  it('round-trips a target name and its parts, empty parts included', () => {
    const back = decodeInput(encodeInput('stack', INPUT));
    expect(back.target).toBe('stack');
    expect(back.input.map((b) => b.toString('hex'))).toEqual(INPUT.map((b) => b.toString('hex')));
  });

  it('round-trips through the base64 lines a regression test inlines', () => {
    const text = inputToBase64('pdu', INPUT, 8).join('');
    expect(decodeInput(Buffer.from(text, 'base64')).input[2]!.equals(INPUT[2]!)).toBe(true);
  });

  it('refuses files that are not fuzz inputs, cut off or with trailing bytes', () => {
    const good = encodeInput('nic', INPUT);
    expect(() => decodeInput(Buffer.from('PCAPFILE..........'))).toThrow(FuzzInputFileError);
    expect(() => decodeInput(good.subarray(0, good.length - 1))).toThrow(/runs past the end/);
    expect(() => decodeInput(Buffer.concat([good, Buffer.from([0])]))).toThrow(/after the last part/);
  });

  it('writes what fits into a fixed buffer and reports the full length (the watchdog’s shared memory)', () => {
    const full = encodeInput('stack', INPUT);
    const small = new Uint8Array(20);
    expect(encodeInputInto('stack', INPUT, small)).toBe(full.length);
    expect(Buffer.from(small).equals(full.subarray(0, 20))).toBe(true);
  });
});
