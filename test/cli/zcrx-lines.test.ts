import { describe, expect, it } from 'vitest';
import { checkZcrxFlags } from '../../src/cli/zcrx-lines.js';

describe('zcrx-nvme flags', () => {
  it('refuses the devmem-only flags in one line, and leaves other modes alone', () => {
    expect(() => checkZcrxFlags({ devmemReturn: 'ring', devmemHold: '0' }, 'zcrx-nvme')).toThrow(/^--devmem-return: zcrx-nvme always returns buffers on its refill ring/);
    expect(() => checkZcrxFlags({ devmemReturn: 'dontneed', devmemHold: '3' }, 'zcrx-nvme')).toThrow(/^--devmem-hold: the hold experiment is for devmem-tcp and devmem-nvme, not zcrx-nvme$/);
    expect(() => checkZcrxFlags({ devmemReturn: 'dontneed', devmemHold: '0' }, 'zcrx-nvme')).not.toThrow();
    expect(() => checkZcrxFlags({ devmemReturn: 'ring', devmemHold: '3' }, 'devmem-nvme')).not.toThrow();
  });
});
