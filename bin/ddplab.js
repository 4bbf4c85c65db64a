#!/usr/bin/env node
// The ddplab command. Runs the compiled JavaScript in dist/ when it is newer
// than every source file (`npm run build`, done by the bootstrap), else the
// TypeScript sources through tsx's loader: a stale build is never run.
//
// Before loading anything, check that this user can read ddplab's own files:
// a checkout inside root's home (0700 on Debian) or a `mktemp -d` directory
// started by another user would otherwise end in a stack of loader errors
// instead of one line. (If even this file is out of reach, node itself
// refuses before we run: docs/getting-started.md says where to put the
// project.)
import { accessSync, constants, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
for (const rel of ['src/cli/main.ts', 'node_modules/tsx/package.json']) {
  try {
    accessSync(join(root, rel), constants.R_OK);
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

/** True when dist/ was built after the last change to any file under src/. */
function buildIsFresh() {
  let built;
  try {
    built = statSync(join(root, 'dist/.built')).mtimeMs;
  } catch {
    return false;
  }
  const stack = [join(root, 'src')];
  while (stack.length > 0) {
    const dir = stack.pop();
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) stack.push(p);
      else if (e.name.endsWith('.ts') && statSync(p).mtimeMs >= built) return false;
    }
  }
  return true;
}

if (process.env.DDPLAB_FROM_SOURCE !== '1' && buildIsFresh()) {
  await import('../dist/cli/main.js');
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../src/cli/main.ts');
}
