import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { parseBytes, parseListen, targetOptionsFromFlags } from '../../src/cli/cmd-target.js';
import { UserError } from '../../src/cli/user-error.js';
import { findPatternMismatch } from '../../src/wire/block-pattern.js';
import { associate, closeAssociation } from '../support/target/pdu-client.js';

const BIN = new URL('../../bin/ddplab.js', import.meta.url).pathname;

describe('ddplab target flags', () => {
  it('parses byte counts with binary units and hex', () => {
    expect(parseBytes('size', '1GiB')).toBe(1 << 30);
    expect(parseBytes('size', '16k')).toBe(16384);
    expect(parseBytes('maxh2cdata', '0x400000')).toBe(0x400000);
    expect(() => parseBytes('size', '1.5G')).toThrow(UserError);
  });

  it('parses --listen forms', () => {
    expect(parseListen('192.0.2.1:4420')).toEqual({ host: '192.0.2.1', port: 4420 });
    expect(parseListen('[::1]:0')).toEqual({ host: '::1', port: 0 });
    expect(parseListen(':9000')).toEqual({ host: undefined, port: 9000 });
    expect(() => parseListen('a:b:c')).toThrow(UserError);
  });

  it('applies the spdk profile and lets a flag override it', () => {
    const o = targetOptionsFromFlags({ profile: 'spdk', incapsule: '8k' });
    expect(o.inCapsuleBytes).toBe(8192);
    expect(o.maxIoBytes).toBe(128 * 1024);
    expect(o.c2hSuccess).toBe(true);
    expect(targetOptionsFromFlags({ mdts: '5' }).maxIoBytes).toBe(128 * 1024);
  });

  it('turns a bad value into a UserError naming the flag', () => {
    expect(() => targetOptionsFromFlags({ order: 'sideways' })).toThrow(/--order/);
    expect(() => targetOptionsFromFlags({ cpda: '32' })).toThrow(/--cpda/);
    expect(() => targetOptionsFromFlags({ size: '1000' })).toThrow(/--size/);
    expect(() => targetOptionsFromFlags({ maxIo: '5000' })).toThrow(/--max-io/);
  });

  it('parses --hostile CASE[@QID][:after=N] and refuses a case or QID the target cannot do', () => {
    expect(targetOptionsFromFlags({}).hostile).toBeUndefined();
    expect(targetOptionsFromFlags({ hostile: 'bad-hdgst@2:after=5' }).hostile).toEqual({ kind: 'bad-hdgst', qid: 2, after: 5 });
    expect(() => targetOptionsFromFlags({ hostile: 'bad-crc' })).toThrow(/^--hostile: 'bad-crc' is not CASE/);
    expect(() => targetOptionsFromFlags({ hostile: 'bad-hlen@9', queues: '8' })).toThrow(/^--hostile: hostile QID 9 is not an I\/O queue of this target \(1\.\.8\)/);
  });
});

describe('ddplab target command', () => {
  it('documents every knob in --help', async () => {
    const r = await execa('node', [BIN, 'target', '--help']);
    for (const flag of [
      '--listen', '--profile', '--nqn', '--size', '--lba-size', '--file', '--seed', '--order', '--interleave', '--batch',
      '--delay-us', '--c2h-size', '--cpda', '--digest', '--c2h-success', '--incapsule', '--maxh2cdata', '--max-io', '--mdts',
      '--queues', '--queue-size', '--ready-delay-ms', '--kas-ms', '--hostile', '--json',
    ]) {
      expect(r.stdout).toContain(flag);
    }
  });

  it('reports a bad flag value as one line without a stack trace', async () => {
    const r = await execa('node', [BIN, 'target', '--digest', 'crc64'], { reject: false });
    expect(r.exitCode).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain('--digest');
    expect(r.stderr).not.toContain('    at ');
  });

  it('serves a host, then prints JSON stats on SIGTERM', async () => {
    const child = execa('node', [BIN, 'target', '--listen', '127.0.0.1:0', '--size', '8MiB', '--seed', '5', '--json', '--quiet'], {
      reject: false,
    });
    const port = await new Promise<number>((resolve, reject) => {
      let out = '';
      child.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /^listening on 127\.0\.0\.1:(\d+) /m.exec(out);
        if (m) resolve(Number(m[1]));
      });
      child.once('exit', () => reject(new Error(`target exited early: ${out}`)));
    });
    const a = await associate(port);
    const r = await a.io[0]!.read(16, 15, 512);
    expect(findPatternMismatch(5, 16 * 512, r.data!)).toBe(-1);
    closeAssociation(a);
    child.kill('SIGTERM');
    const done = await child;
    expect(done.exitCode).toBe(0);
    const json = JSON.parse(done.stdout.slice(done.stdout.indexOf('{'))) as { queues: Array<{ qid: number; reads: number }>; totals: { reads: number } };
    expect(json.totals.reads).toBe(1);
    expect(json.queues.find((q) => q.qid === 1)?.reads).toBe(1);
  });
});
