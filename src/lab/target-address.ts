/**
 * Addresses a user gives on the command line (--target ADDR:PORT, the
 * subnet of --host-ip A/LEN), parsed without loading the host stack: the
 * flags of `ddplab run` and `ddplab host` check them before anything heavy
 * is imported (src/cli/commands.ts loads a command's code lazily).
 */
import { UserError } from '../base/errors.js';

export function parseTargetAddress(text: string): { ip: string; port: number } {
  const m = /^(\d+\.\d+\.\d+\.\d+)(?::(\d+))?$/.exec(text);
  if (!m) throw new UserError('BAD_TARGET', `bad target address "${text}": use A.B.C.D or A.B.C.D:PORT`);
  const port = m[2] === undefined ? 4420 : Number(m[2]);
  if (port < 1 || port > 65535) throw new UserError('BAD_TARGET', `bad target port ${port}: use 1..65535`);
  return { ip: m[1]!, port };
}

/** The netmask of a prefix length as a u32 (the host stack's rule: src/host/net/host-stack.ts prefixMask). */
export function prefixMask(prefixLen: number): number {
  return prefixLen === 0 ? 0 : (0xffff_ffff << (32 - prefixLen)) >>> 0;
}

/** Whether two u32 addresses share their first `prefixLen` bits. */
export function sameSubnet(a: number, b: number, prefixLen: number): boolean {
  return ((a ^ b) & prefixMask(prefixLen)) >>> 0 === 0;
}
