/**
 * Where ddplab's own files are. This module is two folders below the
 * project root both as a source (src/base/paths.ts) and once bundled
 * (dist/cli/*.js, scripts/build.mjs), so paths computed here hold in both;
 * a path written relative to a deeper module would not (its bundled chunk
 * sits in dist/cli/ too).
 */
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

/** The project's root folder (the checkout). */
export const PROJECT_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** The `ddplab` command, for the child processes a run starts. */
export const DDPLAB_BIN = join(PROJECT_ROOT, 'bin', 'ddplab.js');
