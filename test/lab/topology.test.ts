import { describe, expect, it } from 'vitest';
import { checkTopologyId, namespaceName, netnsCommand, newTopologyId, parseStatus } from '../../src/lab/topology.js';

const SAMPLE =
  '[{"id":"ab1","complete":true,"owner":4242,"ownerAlive":false,' +
  '"tgt":{"ns":"ddplab-ab1-tgt","exists":true,"pids":1,"link":{"name":"tgt0","mac":"02:00:00:00:00:01","mtu":1500,"up":true}},' +
  '"host":{"ns":"ddplab-ab1-host","exists":true,"pids":0,"link":null}}]';

describe('topology names and status', () => {
  it('makes fresh ids that the scripts accept', () => {
    const ids = new Set(Array.from({ length: 50 }, () => newTopologyId()));
    for (const id of ids) {
      expect(id).toMatch(/^[a-z0-9]{6}$/);
      expect(() => checkTopologyId(id)).not.toThrow();
    }
    expect(ids.size).toBeGreaterThan(45);
  });

  it('refuses ids that would make invalid or foreign names', () => {
    for (const bad of ['', 'ABC', 'a-b', 'toolongid', '../x']) {
      expect(() => checkTopologyId(bad)).toThrow(expect.objectContaining({ code: 'BAD_ID' }));
    }
    expect(namespaceName('ab1', 'tgt')).toBe('ddplab-ab1-tgt');
  });

  it('runs commands in a namespace through netns/exec.sh', () => {
    const cmd = netnsCommand('ab1', 'host', ['ip', 'link']);
    expect(cmd.file).toMatch(/\/netns\/exec\.sh$/);
    expect(cmd.args).toEqual(['ab1', 'host', '--', 'ip', 'link']);
    expect(() => netnsCommand('AB', 'host', ['true'])).toThrow(expect.objectContaining({ code: 'BAD_ID' }));
  });

  it('reads what status.sh --json reports', () => {
    const [st] = parseStatus(SAMPLE);
    expect(st).toEqual({
      id: 'ab1',
      complete: true,
      owner: 4242,
      ownerAlive: false,
      manual: false,
      tgt: { ns: 'ddplab-ab1-tgt', exists: true, pids: 1, link: { name: 'tgt0', mac: '02:00:00:00:00:01', mtu: 1500, up: true } },
      host: { ns: 'ddplab-ab1-host', exists: true, pids: 0, link: null },
    });
    expect(parseStatus('[]')).toEqual([]);
  });

  it('rejects status output of the wrong shape', () => {
    expect(() => parseStatus('{}')).toThrow(/expected an array/);
    expect(() => parseStatus('[{"id":"a"}]')).toThrow(/entry without/);
    expect(() => parseStatus(SAMPLE.replace('"pids":1', '"pids":"1"'))).toThrow(/bad side entry/);
  });
});
