/**
 * IP-level injection of crafted packets through a raw socket (the
 * `raw-socket` package, 1.8.1): whole IPv4 packets, header included, sent as
 * they are — any source address, flags, options, bad lengths in the
 * payload. For hostile input aimed at the target's kernel or, through tgt0,
 * at ddplab's host stack.
 *
 * The socket is IPPROTO_RAW: send-only (the kernel delivers nothing to it)
 * and IP_HDRINCL implied, so the packet's protocol field can be anything.
 * On such a socket Linux fills in only what the header leaves zero — the
 * IPv4 checksum always, the total length always, the identification and the
 * source address when 0 (raw(7)) — and routes by the destination address.
 *
 * A raw socket belongs to the network namespace of the process that opened
 * it, and Node cannot change namespace: to inject from ddplab-<id>-tgt, run
 * raw-inject-cli.ts there (injectInNamespace does that through netns/exec.sh).
 */
import { PROJECT_ROOT } from '../../base/paths.js';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { execa, ExecaError } from 'execa';
import { netnsCommand, type TopologySide } from '../topology.js';
import { DdplabError } from '../../base/errors.js';

/** IPPROTO_RAW: send-only, header included. */
const IPPROTO_RAW = 255;

// IPv4 header fields the wrapper reads (RFC 791).
const IP_VERSION_IHL = 0;
const IP_DST = 16;
const IPV4_MIN_HEADER = 20;

export type RawInjectErrorCode = 'PERMISSION' | 'BAD_PACKET' | 'SEND_FAILED' | 'CLOSED' | 'MODULE_MISSING';

export class RawInjectError extends DdplabError<RawInjectErrorCode> {
  constructor(code: RawInjectErrorCode, message: string) {
    super(code, message);
    this.name = 'RawInjectError';
  }
}

/** The part of raw-socket's Socket this module uses (it ships no types). */
interface RawSocket {
  send(
    buffer: Buffer,
    offset: number,
    length: number,
    address: string,
    afterCallback: (error: Error | null, bytes: number) => void,
  ): RawSocket;
  pauseRecv(): RawSocket;
  close(): RawSocket;
  on(event: 'error', listener: (error: Error) => void): RawSocket;
}

interface RawSocketModule {
  createSocket(options: { protocol: number; addressFamily: number }): RawSocket;
  AddressFamily: { IPv4: number };
}

function rawSocketModule(): RawSocketModule {
  const require = createRequire(import.meta.url);
  try {
    return require('raw-socket') as RawSocketModule;
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    throw new RawInjectError('MODULE_MISSING', `cannot load raw-socket (run npm ci): ${msg}`);
  }
}

/**
 * Open injectors, held until close(). raw-socket's native wrap is weak: an
 * injector reachable only through its own pending send (its socket → the
 * request → the awaiting caller → the injector) is garbage, and when the
 * collector takes it the socket closes under the send, whose promise then
 * never settles — a process that sends a few thousand packets exited 0
 * half-way through, silently.
 */
const OPEN = new Set<RawIpInjector>();

/** Sends whole IPv4 packets from this process's network namespace. */
export class RawIpInjector {
  private readonly socket: RawSocket;
  private closed = false;
  private failure: Error | null = null;

  constructor() {
    const raw = rawSocketModule();
    try {
      this.socket = raw.createSocket({ protocol: IPPROTO_RAW, addressFamily: raw.AddressFamily.IPv4 });
    } catch (e) {
      const msg = e instanceof Error ? e.message : String(e);
      if (/not permitted|permission/i.test(msg)) {
        throw new RawInjectError('PERMISSION', 'raw IP injection needs root (CAP_NET_RAW): run it as root (sudo)');
      }
      throw new RawInjectError('SEND_FAILED', `cannot open a raw IPv4 socket: ${msg}`);
    }
    // The package closes the socket on a socket error; remember it for the next send.
    this.socket.on('error', (err) => {
      this.failure = err;
      this.closed = true;
      OPEN.delete(this);
    });
    OPEN.add(this);
  }

  /**
   * Sends one IPv4 packet as is (see the file comment for what the kernel
   * fills in). Resolves with the bytes sent; rejects with SEND_FAILED
   * (no route, EMSGSIZE, ...) or BAD_PACKET if it is not IPv4 at all.
   */
  send(packet: Buffer): Promise<number> {
    if (this.closed) {
      return Promise.reject(new RawInjectError('CLOSED', `raw socket is closed${this.failure ? `: ${this.failure.message}` : ''}`));
    }
    if (packet.length < IPV4_MIN_HEADER || packet[IP_VERSION_IHL]! >> 4 !== 4) {
      return Promise.reject(new RawInjectError('BAD_PACKET', `not an IPv4 packet (${packet.length} bytes)`));
    }
    // The kernel routes by the header's destination; sendto's address must agree with it.
    const dst = `${packet[IP_DST]}.${packet[IP_DST + 1]}.${packet[IP_DST + 2]}.${packet[IP_DST + 3]}`;
    return new Promise((resolve, reject) => {
      this.socket.send(packet, 0, packet.length, dst, (error, bytes) => {
        if (error) reject(new RawInjectError('SEND_FAILED', `raw send to ${dst} failed: ${error.message}`));
        else resolve(bytes);
      });
    });
  }

  /** Closes the socket (it holds the event loop open until then). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    OPEN.delete(this);
    this.socket.close();
  }
}

export function openRawIpInjector(): RawIpInjector {
  return new RawIpInjector();
}

const CLI = fileURLToPath(new URL('./raw-inject-cli.ts', import.meta.url));
/** `--import tsx` resolves from the working directory: the repository root. */
const REPO_ROOT = PROJECT_ROOT;

/**
 * Injects `packets` from inside one namespace of run `id`: runs
 * raw-inject-cli.ts there (node + tsx, through netns/exec.sh). Resolves when
 * every packet was sent; a failure rejects with the child's one-line error.
 */
export async function injectInNamespace(id: string, side: TopologySide, packets: readonly Buffer[]): Promise<void> {
  const cmd = netnsCommand(id, side, [process.execPath, '--import', 'tsx', CLI, ...packets.map((p) => p.toString('hex'))]);
  try {
    const r = await execa(cmd.file, cmd.args, { stdin: 'ignore', cwd: REPO_ROOT });
    // The child reports its count last: anything else means it stopped before the end.
    if (r.stdout.trim() !== `sent ${packets.length}`) {
      throw new RawInjectError('SEND_FAILED', `injecting in ddplab-${id}-${side}: the injector ended without sending all ${packets.length} packets (said "${r.stdout.trim()}")`);
    }
  } catch (e) {
    if (e instanceof ExecaError) {
      const stderr: unknown = e.stderr;
      const line = typeof stderr === 'string' && stderr.trim() !== '' ? stderr.trim().split('\n').pop()! : e.shortMessage;
      throw new RawInjectError('SEND_FAILED', `injecting in ddplab-${id}-${side} failed: ${line}`);
    }
    throw e;
  }
}
