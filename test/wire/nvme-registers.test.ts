import { describe, expect, it } from 'vitest';
import {
  CAP_CSS_NVM,
  capTimeoutMs,
  CcShn,
  CstsShst,
  encodeCap,
  encodeCc,
  encodeCsts,
  encodeVersion,
  NvmeReg,
  nvmeRegSize,
  parseCap,
  parseCc,
  parseCsts,
  parseVersion,
  type NvmeCap,
} from '../../src/wire/nvme-registers.js';

describe('NVMe controller properties', () => {
  it('knows the offsets and sizes of CAP, VS, CC and CSTS', () => {
    expect([NvmeReg.CAP, NvmeReg.VS, NvmeReg.CC, NvmeReg.CSTS]).toEqual([0x0, 0x8, 0x14, 0x1c]);
    expect(nvmeRegSize(NvmeReg.CAP)).toBe(8);
    expect(nvmeRegSize(NvmeReg.VS)).toBe(4);
    expect(nvmeRegSize(NvmeReg.CC)).toBe(4);
    expect(nvmeRegSize(NvmeReg.CSTS)).toBe(4);
    expect(nvmeRegSize(0x18)).toBeUndefined();
  });

  it('encodes CAP bit fields where the spec puts them', () => {
    const cap: NvmeCap = {
      mqes: 1023,
      cqr: true,
      ams: 0,
      to: 15,
      dstrd: 0,
      nssrs: false,
      css: CAP_CSS_NVM,
      bps: false,
      mpsmin: 0,
      mpsmax: 4,
    };
    // MQES 15:0, CQR bit 16, TO 31:24, CSS bit 37, MPSMAX 55:52
    const expected = 1023n | (1n << 16n) | (15n << 24n) | (1n << 37n) | (4n << 52n);
    expect(encodeCap(cap)).toBe(expected);
    expect(parseCap(expected)).toEqual(cap);
    expect(capTimeoutMs(expected)).toBe(7500);
  });

  it('round-trips every CAP field at its maximum', () => {
    const cap: NvmeCap = { mqes: 0xffff, cqr: true, ams: 3, to: 0xff, dstrd: 0xf, nssrs: true, css: 0xff, bps: true, mpsmin: 0xf, mpsmax: 0xf };
    expect(parseCap(encodeCap(cap))).toEqual(cap);
    expect(encodeCap(cap)).toBe(0x00ff_3fff_ff07_ffffn);
  });

  it('encodes CC as Linux enables a controller: EN, IOSQES 6, IOCQES 4', () => {
    const cc = { en: true, css: 0, mps: 0, ams: 0, shn: CcShn.NONE, iosqes: 6, iocqes: 4 };
    expect(encodeCc(cc)).toBe(0x0046_0001);
    expect(parseCc(0x0046_0001)).toEqual(cc);
    expect(parseCc(encodeCc({ ...cc, shn: CcShn.NORMAL })).shn).toBe(CcShn.NORMAL);
    expect(encodeCc({ ...cc, shn: CcShn.NORMAL })).toBe(0x0046_4001);
  });

  it('decodes CSTS ready and shutdown status', () => {
    expect(parseCsts(0x1)).toEqual({ rdy: true, cfs: false, shst: CstsShst.NORMAL, nssro: false, pp: false });
    expect(parseCsts(0x9).shst).toBe(CstsShst.COMPLETE);
    expect(encodeCsts({ rdy: true, cfs: true, shst: CstsShst.OCCURRING, nssro: true, pp: true })).toBe(0x37);
  });

  it('encodes VS as major.minor.tertiary', () => {
    expect(encodeVersion({ major: 1, minor: 4, tertiary: 0 })).toBe(0x0001_0400);
    expect(parseVersion(0x0002_0100)).toEqual({ major: 2, minor: 1, tertiary: 0 });
  });

  it('refuses fields wider than their bits', () => {
    expect(() => encodeCc({ en: true, css: 8, mps: 0, ams: 0, shn: 0, iosqes: 6, iocqes: 4 })).toThrow(
      expect.objectContaining({ code: 'BAD_FIELD', detail: expect.objectContaining({ field: 'css' }) }),
    );
  });
});
