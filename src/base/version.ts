/**
 * ddplab's version, as `ddplab --version` prints it and the run report's
 * fio layout names it ("fio version": "ddplab-<version>"). Kept equal to
 * package.json's by test/base/version.test.ts.
 */
export const DDPLAB_VERSION = '0.1.0';
