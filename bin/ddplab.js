#!/usr/bin/env node
// Runs the TypeScript CLI through tsx's loader: no build step to forget.
//
// Before loading anything, check that this user can read ddplab's own files:
// a checkout inside root's home (0700 on Debian) or a `mktemp -d` directory
// started by another user would otherwise end in a stack of loader errors
// instead of one line. (If even this file is out of reach, node itself
// refuses before we run: docs/getting-started.md says where to put the
// project.)
import { accessSync, constants } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
for (const rel of ['src/cli/main.ts', 'node_modules/tsx/package.json']) {
  try {
    accessSync(new URL(`../${rel}`, import.meta.url), constants.R_OK);
  } catch (e) {
    if (e && (e.code === 'EACCES' || e.code === 'EPERM')) {
      const uid = process.getuid ? process.getuid() : '?';
      process.stderr.write(
        `ddplab: user ${uid} cannot read ddplab's own files in ${root} (${rel}: permission denied): ` +
          'run ddplab as root, or put the project where this user can read it (not inside /root or another 0700 directory)\n',
      );
      process.exit(1);
    }
    // ENOENT and friends: let the import below say what is missing.
  }
}

const { register } = await import('tsx/esm/api');
register();
await import('../src/cli/main.ts');
