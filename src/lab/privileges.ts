/**
 * Preflight checks for commands that touch the live topology, each failing
 * with one UserError line that says what is missing and how to get it:
 * privileges (root, or the capabilities), libpcap, an interface.
 */
import { existsSync, readFileSync } from 'node:fs';
import { UserError } from '../base/errors.js';
import { loadLibpcap } from '../nicemu/port/live.js';
import { PortError } from '../nicemu/port/port.js';
import { commandForMessage } from './invoked-command.js';

// Bit numbers in the capability sets (linux/capability.h).
const CAP_NET_ADMIN = 12n;
const CAP_NET_RAW = 13n;
const CAP_SYS_ADMIN = 21n;

/** The effective capability set of this process (CapEff in /proc/self/status). */
function effectiveCaps(): bigint {
  try {
    const m = /^CapEff:\s*([0-9a-f]+)$/m.exec(readFileSync('/proc/self/status', 'latin1'));
    return m ? BigInt(`0x${m[1]}`) : 0n;
  } catch {
    return 0n;
  }
}

function hasCap(caps: bigint, bit: bigint): boolean {
  return ((caps >> bit) & 1n) === 1n;
}

/**
 * Creating network namespaces needs CAP_SYS_ADMIN (ip netns mounts them) and
 * CAP_NET_ADMIN (links, addresses); capturing needs CAP_NET_RAW. Root has
 * them all, and that is what we tell the user to use.
 */
export function requireNetAdmin(action: string): void {
  const caps = effectiveCaps();
  if (hasCap(caps, CAP_NET_ADMIN) && hasCap(caps, CAP_SYS_ADMIN) && hasCap(caps, CAP_NET_RAW)) return;
  const who = commandForMessage(action);
  throw new UserError(
    'NOT_ROOT',
    `${who} needs root (CAP_SYS_ADMIN, CAP_NET_ADMIN, CAP_NET_RAW to manage network namespaces and capture): run it as root, e.g. sudo npm run ddplab -- ${who.replace(/^ddplab /, '')}`,
  );
}

/** Capturing and injecting frames needs CAP_NET_RAW. */
export function requireNetRaw(action: string): void {
  if (hasCap(effectiveCaps(), CAP_NET_RAW)) return;
  const who = commandForMessage(action);
  throw new UserError('NOT_ROOT', `${who} needs root (CAP_NET_RAW to capture and send frames): run it as root, e.g. sudo npm run ddplab -- ${who.replace(/^ddplab /, '')}`);
}

/** Loads libpcap through the pcap binding; returns its version string. */
export function requireLibpcap(): string {
  try {
    return loadLibpcap();
  } catch (e) {
    if (e instanceof PortError) throw new UserError('LIBPCAP_MISSING', e.message);
    throw e;
  }
}

/** The interface must exist in this process's network namespace. */
export function requireInterface(name: string, hint = ''): void {
  if (!/^[A-Za-z0-9_.:-]{1,15}$/.test(name)) {
    throw new UserError('BAD_INTERFACE', `"${name}" is not a valid interface name`);
  }
  if (existsSync(`/sys/class/net/${name}`)) return;
  throw new UserError('IFACE_MISSING', `no interface ${name} in this network namespace${hint ? `: ${hint}` : ''}`);
}
