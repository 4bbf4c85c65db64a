/**
 * Paths a command will write or read, checked when the flags are read: a run
 * that can only end by failing to write its capture, or to open the image it
 * verifies against, says so in one line before any namespace or process
 * exists, not after the whole run.
 */
import { accessSync, constants, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { UserError } from '../base/errors.js';

/** `path` can be created or overwritten: its folder exists, is a folder, and is writable; the path is not a folder. */
export function checkOutputPath(flag: string, path: string): void {
  const full = resolve(path);
  const dir = dirname(full);
  let isDir: boolean;
  try {
    isDir = statSync(dir).isDirectory();
  } catch {
    throw new UserError('BAD_PATH', `${flag} ${path}: the folder ${dir} does not exist`);
  }
  if (!isDir) throw new UserError('BAD_PATH', `${flag} ${path}: ${dir} is not a folder`);
  try {
    accessSync(dir, constants.W_OK);
  } catch {
    throw new UserError('BAD_PATH', `${flag} ${path}: the folder ${dir} is not writable`);
  }
  try {
    if (statSync(full).isDirectory()) throw new UserError('BAD_PATH', `${flag} ${path}: is a folder; give a file name`);
  } catch (e) {
    if (e instanceof UserError) throw e;
    // absent: will be created
  }
}

/** `path` is a readable file. */
export function checkInputFile(flag: string, path: string): void {
  let isFile: boolean;
  try {
    isFile = statSync(path).isFile();
  } catch {
    throw new UserError('BAD_PATH', `${flag}: ${path} does not exist`);
  }
  if (!isFile) throw new UserError('BAD_PATH', `${flag}: ${path} is not a file`);
  try {
    accessSync(path, constants.R_OK);
  } catch {
    throw new UserError('BAD_PATH', `${flag}: ${path} is not readable`);
  }
}
