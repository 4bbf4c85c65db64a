/**
 * `ddplab replay --json` of the reference captures, as the CLI prints it,
 * against docs/report.schema.json: with and without offload, with and
 * without impairment (which fills the impair section and the gaps).
 */
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPORT_SCHEMA_VERSION } from '../../src/base/report-version.js';
import { reportErrors } from './report-schema-validator.js';

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'ddplab.js');
const CAPTURES = join(import.meta.dirname, '..', '..', 'captures');

function replayJson(args: readonly string[]): Record<string, any> {
  const out = execFileSync(process.execPath, [BIN, 'replay', '--json', ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const lines = out.trim().split('\n');
  expect(lines.length).toBe(1);
  return JSON.parse(lines[0]!) as Record<string, any>;
}

const captures = readdirSync(CAPTURES).filter((f) => /^mtu\d+-.*\.pcap$/.test(f));

describe('ddplab replay --json against docs/report.schema.json', () => {
  it('has reference captures to replay', () => {
    expect(captures.length).toBeGreaterThanOrEqual(4);
  });

  for (const f of captures) {
    it(`${f}: validates with offload none, and with ddp-crc under loss and reordering`, () => {
      const plain = replayJson(['--offload', 'none', join(CAPTURES, f)]);
      expect(plain['schemaVersion']).toBe(REPORT_SCHEMA_VERSION);
      expect(reportErrors('replay', plain)).toEqual([]);
      expect(reportErrors('any', plain)).toEqual([]);
      expect(plain['ddp']).toBeNull();
      expect(plain['impair']).toBeNull();

      const impaired = replayJson(['--offload', 'ddp-crc', '--drop', '0.02', '--reorder', '0.02', '--seed', '3', join(CAPTURES, f)]);
      expect(reportErrors('replay', impaired)).toEqual([]);
      expect(impaired['ddp']['rx-nvme-tcp-setup']).toBeGreaterThan(0);
      expect(impaired['impair']['dropped'] + impaired['impair']['reordered']).toBeGreaterThan(0);
      expect(impaired['reads'].length).toBeGreaterThan(0);
    });
  }

  it('refuses a real report that lost a key or a type', () => {
    const r = replayJson(['--offload', 'ddp-crc', join(CAPTURES, captures[0]!)]);
    const without = { ...r };
    delete without['reads'];
    expect(reportErrors('replay', without).join('\n')).toMatch(/must have required property 'reads'/);
    const badHash = { ...r, reads: [{ ...r['reads'][0], sha256: 'ABC' }, ...r['reads'].slice(1)] };
    expect(reportErrors('replay', badHash).join('\n')).toMatch(/sha256 must match pattern/);
    // A sequence number is not a count: the totals carry none (they once held the sum of the connections' first PDU sequence numbers).
    const seqInTotals = { ...r, total: { ...r['total'], c2h: { ...r['total']['c2h'], firstPduSeq: 1 } } };
    expect(reportErrors('replay', seqInTotals).join('\n')).toMatch(/must NOT have additional properties.*firstPduSeq/);
  });
});
