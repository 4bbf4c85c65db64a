import { describe, expect, it } from 'vitest';
import { UserError } from '../../src/base/errors.js';
import {
  DDP_OFFLOAD_MODES,
  OFFLOAD_FEATURES,
  OFFLOAD_MODES,
  RUN_OFFLOAD_MODES,
  STREAM_OFFLOAD_MODES,
  ddpModeOf,
  headerSplitOf,
  parseOffloadMode,
  usesAnyOffload,
  usesCrcOffload,
  usesDdpEngine,
  usesDevmem,
  usesZcrx,
} from '../../src/host/offload-mode.js';

describe('offload mode', () => {
  it('says what each mode turns on', () => {
    expect(OFFLOAD_MODES.filter(usesAnyOffload)).toEqual(['ddp', 'ddp-crc', 'devmem-tcp', 'devmem-nvme', 'zcrx-tcp', 'zcrx-nvme']);
    expect(OFFLOAD_MODES.filter(usesDdpEngine)).toEqual(['ddp', 'ddp-crc']);
    // zcrx-nvme: the NIC checks digests, but a completion cannot tell the host so.
    expect(OFFLOAD_MODES.filter(usesCrcOffload)).toEqual(['ddp-crc', 'devmem-nvme']);
    expect(OFFLOAD_MODES.filter(usesDevmem)).toEqual(['devmem-tcp', 'devmem-nvme']);
    expect(OFFLOAD_MODES.filter(usesZcrx)).toEqual(['zcrx-tcp', 'zcrx-nvme']);
    expect(OFFLOAD_MODES.map(headerSplitOf)).toEqual([undefined, undefined, undefined, 'tcp', 'nvme', 'tcp', 'nvme']);
    expect(OFFLOAD_MODES.map(ddpModeOf)).toEqual(['none', 'ddp', 'ddp-crc', 'none', 'none', 'none', 'none']);
    // A memory provider and header split go together: payload must land apart from headers.
    for (const m of OFFLOAD_MODES) expect(OFFLOAD_FEATURES[m].provider !== undefined).toBe(OFFLOAD_FEATURES[m].headerSplit !== undefined);
    for (const m of OFFLOAD_MODES) expect(OFFLOAD_FEATURES[m].tokenApi).toBe(OFFLOAD_FEATURES[m].provider === 'dmabuf');
    expect(RUN_OFFLOAD_MODES.filter((m) => usesZcrx(m))).toEqual(['zcrx-nvme']);
    expect(STREAM_OFFLOAD_MODES).toEqual(['none', 'devmem-tcp', 'zcrx-tcp']);
  });

  it('parses a flag value, refusing others in one line that names the flag and the values', () => {
    expect(parseOffloadMode('devmem-nvme')).toBe('devmem-nvme');
    expect(parseOffloadMode('ddp', DDP_OFFLOAD_MODES)).toBe('ddp');
    const refusal = (f: () => unknown): UserError => {
      try {
        f();
      } catch (e) {
        if (e instanceof UserError) return e;
      }
      throw new Error('expected a UserError');
    };
    const e = refusal(() => parseOffloadMode('devmem-tcp', DDP_OFFLOAD_MODES));
    expect(e.code).toBe('BAD_FLAG');
    expect(e.message).toBe("--offload: 'devmem-tcp' is not one of none, ddp, ddp-crc");
    expect(refusal(() => parseOffloadMode('dpp')).message).toBe("--offload: 'dpp' is not one of none, ddp, ddp-crc, devmem-tcp, devmem-nvme, zcrx-nvme");
    // A command refuses the zcrx mode it does not build by name, saying where it is built.
    expect(refusal(() => parseOffloadMode('zcrx-tcp')).message).toMatch(/'zcrx-tcp' is not one of .*ddplab stream --offload zcrx-tcp/);
    expect(refusal(() => parseOffloadMode('zcrx-nvme', STREAM_OFFLOAD_MODES)).message).toMatch(/ddplab run --offload zcrx-nvme\)$/);
    expect(parseOffloadMode('zcrx-nvme')).toBe('zcrx-nvme');
    expect(parseOffloadMode('zcrx-tcp', STREAM_OFFLOAD_MODES)).toBe('zcrx-tcp');
  });
});
