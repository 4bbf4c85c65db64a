import { describe, expect, it } from 'vitest';
import { NvmeSc, NvmeSct, nvmeStatus, statusSc, statusSct, statusToString } from '../../src/wire/nvme-status.js';

describe('NVMe status values', () => {
  it('packs SCT and SC the way Linux NVME_SC_* values are written', () => {
    expect(nvmeStatus(NvmeSct.COMMAND_SPECIFIC, 0x82)).toBe(NvmeSc.CONNECT_INVALID_PARAM);
    expect(nvmeStatus(NvmeSct.GENERIC, 0x02)).toBe(NvmeSc.INVALID_FIELD);
    expect(statusSct(NvmeSc.CONNECT_INVALID_HOST)).toBe(1);
    expect(statusSc(NvmeSc.CONNECT_INVALID_HOST)).toBe(0x84);
    expect(statusSct(NvmeSc.READ_ERROR)).toBe(NvmeSct.MEDIA);
  });

  it('has the Fabrics Connect codes at SCT 1 SC 0x80..0x84', () => {
    expect([
      NvmeSc.CONNECT_FORMAT,
      NvmeSc.CONNECT_CTRL_BUSY,
      NvmeSc.CONNECT_INVALID_PARAM,
      NvmeSc.CONNECT_RESTART_DISC,
      NvmeSc.CONNECT_INVALID_HOST,
    ]).toEqual([0x180, 0x181, 0x182, 0x183, 0x184]);
    expect([NvmeSc.LBA_RANGE, NvmeSc.NS_NOT_READY, NvmeSc.INVALID_NS, NvmeSc.CMDID_CONFLICT]).toEqual([0x80, 0x82, 0x0b, 0x03]);
  });

  it('describes statuses in one line with SCT and SC', () => {
    expect(statusToString(NvmeSc.SUCCESS)).toBe('SUCCESS (SCT 0x0 SC 0x00)');
    expect(statusToString(NvmeSc.CONNECT_INVALID_PARAM)).toBe('CONNECT_INVALID_PARAM (SCT 0x1 SC 0x82)');
    expect(statusToString(NvmeSc.DATA_XFER_ERROR)).toBe('DATA_XFER_ERROR (SCT 0x0 SC 0x04)');
    expect(statusToString(0x299)).toBe('unknown (SCT 0x2 SC 0x99)');
  });

  it('tells Fabrics from NVM command-specific codes by opcode', () => {
    expect(statusToString(0x182, 0x7f)).toBe('CONNECT_INVALID_PARAM (SCT 0x1 SC 0x82)');
    expect(statusToString(0x182, 0x01)).toBe('READ_ONLY (SCT 0x1 SC 0x82)');
    expect(statusToString(0x184, 0x01)).toBe('unknown (SCT 0x1 SC 0x84)');
    expect(statusToString(0x184)).toBe('CONNECT_INVALID_HOST (SCT 0x1 SC 0x84)');
    expect(statusToString(NvmeSc.INVALID_FIELD, 0x01)).toBe('INVALID_FIELD (SCT 0x0 SC 0x02)');
  });
});
