import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DDPLAB_VERSION } from '../../src/base/version.js';

describe('DDPLAB_VERSION', () => {
  it("is package.json's version", () => {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    expect(DDPLAB_VERSION).toBe(pkg.version);
  });
});
