/**
 * One peer VM: QEMU started inside the peer network's bridge namespace (so
 * it opens its tap there), serial console to a log file, and a command port
 * on the second serial line (protocol in initramfs.ts).
 *
 * Acceleration: KVM when /dev/kvm exists and a guest reaches its init there
 * within a short wait (on some hosts /dev/kvm exists but guests hang before
 * init), otherwise QEMU's software emulation (TCG); a failed KVM boot is
 * remembered per host kernel (KVM_FAILED). DDPLAB_PEER_ACCEL=tcg|kvm forces one.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createConnection, type Socket } from 'node:net';
import { release } from 'node:os';
import { join } from 'node:path';
import { onCleanup } from './cleanup.js';
import { PEER_CACHE } from './kernel.js';
import { PeerError, QEMU } from './requirements.js';

export interface VmOptions {
  readonly name: string;
  /** Namespace holding the tap. */
  readonly netns: string;
  readonly tap: string;
  readonly mac: string;
  readonly memMiB: number;
  readonly cpus?: number;
  readonly kernel: string;
  readonly initrd: string;
  /** Directory for the console log, the command socket and the pid file. */
  readonly dir: string;
  /** Extra kernel command line. */
  readonly append?: string;
}

export interface ExecResult {
  readonly code: number;
  readonly out: string;
}

const BOOT_TIMEOUT_TCG_MS = 90_000;
const BOOT_TIMEOUT_KVM_MS = 15_000;

export type Accel = 'kvm' | 'tcg';

/**
 * Where a KVM boot that failed is remembered (with the host kernel it failed
 * under), so that later VMs — in this process or the next — go straight to
 * TCG instead of waiting out the KVM attempt again.
 */
const KVM_FAILED = join(PEER_CACHE, 'kvm-failed');

function kvmKnownBroken(): boolean {
  try {
    return readFileSync(KVM_FAILED, 'utf8').trim() === release();
  } catch {
    return false;
  }
}

function accelChoices(): Accel[] {
  const forced = process.env.DDPLAB_PEER_ACCEL;
  if (forced === 'tcg' || forced === 'kvm') return [forced];
  return existsSync('/dev/kvm') && !kvmKnownBroken() ? ['kvm', 'tcg'] : ['tcg'];
}

export class PeerVm {
  readonly opts: VmOptions;
  readonly accel: Accel;
  private bootMsValue = 0;
  private readonly proc: ChildProcess;
  private readonly sock: Socket;
  private readonly undo: () => void;
  private buf = '';
  private waiter: ((line: string) => void) | undefined;
  private lines: string[] = [];
  private queue: Promise<unknown> = Promise.resolve();
  private exited = false;
  private exitInfo = '';

  private constructor(opts: VmOptions, accel: Accel, proc: ChildProcess, sock: Socket, undo: () => void) {
    this.opts = opts;
    this.accel = accel;
    this.proc = proc;
    this.sock = sock;
    this.undo = undo;
    proc.on('exit', (code, sig) => {
      this.exited = true;
      this.exitInfo = sig !== null ? `killed by ${sig}` : `exit code ${String(code)}`;
      this.push('@@DEAD');
    });
    sock.on('data', (d: Buffer) => {
      this.buf += d.toString('latin1');
      let nl: number;
      while ((nl = this.buf.indexOf('\n')) >= 0) {
        const line = this.buf.slice(0, nl).replace(/\r$/, '');
        this.buf = this.buf.slice(nl + 1);
        this.push(line);
      }
    });
    sock.on('error', () => this.push('@@DEAD'));
    sock.on('close', () => this.push('@@DEAD'));
  }

  /** From spawning qemu to the guest's command port answering. */
  get bootMs(): number {
    return this.bootMsValue;
  }

  get pid(): number | undefined {
    return this.proc.pid;
  }

  get consoleLog(): string {
    return join(this.opts.dir, `${this.opts.name}.console.log`);
  }

  /** The last lines of the guest's console, for error messages. */
  consoleTail(n = 5): string {
    try {
      return readFileSync(this.consoleLog, 'utf8').trim().split('\n').slice(-n).join(' | ');
    } catch {
      return '(no console log)';
    }
  }

  private push(line: string): void {
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = undefined;
      w(line);
    } else this.lines.push(line);
  }

  private nextLine(deadline: number): Promise<string> {
    const l = this.lines.shift();
    if (l !== undefined) return Promise.resolve(l);
    if (this.exited) return Promise.resolve('@@DEAD');
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.waiter = undefined;
        resolve('@@TIMEOUT');
      }, Math.max(0, deadline - Date.now()));
      this.waiter = (line) => {
        clearTimeout(t);
        resolve(line);
      };
    });
  }

  /** Boots the VM and waits for its command port; every exit path kills qemu. */
  static async boot(opts: VmOptions): Promise<PeerVm> {
    const choices = accelChoices();
    let lastErr: Error | undefined;
    for (const accel of choices) {
      try {
        return await PeerVm.bootWith(opts, accel, accel === 'kvm' && choices.length > 1 ? BOOT_TIMEOUT_KVM_MS : BOOT_TIMEOUT_TCG_MS);
      } catch (e) {
        lastErr = e as Error;
        if (accel === 'kvm' && choices.length > 1) {
          try {
            mkdirSync(PEER_CACHE, { recursive: true });
            writeFileSync(KVM_FAILED, `${release()}\n`);
          } catch {
            // a read-only cache only costs the next VM the same wait
          }
        }
      }
    }
    throw lastErr ?? new PeerError('no accelerator');
  }

  private static async bootWith(opts: VmOptions, accel: Accel, timeoutMs: number): Promise<PeerVm> {
    const t0 = Date.now();
    const sockPath = join(opts.dir, `${opts.name}.ctl`);
    const args = [
      'netns', 'exec', opts.netns, QEMU,
      '-name', `ddplab-peer-${opts.name}`,
      '-nodefaults', '-no-user-config', '-display', 'none', '-no-reboot',
      '-machine', 'pc', '-accel', accel, '-cpu', accel === 'kvm' ? 'host' : 'max',
      '-m', String(opts.memMiB), '-smp', String(opts.cpus ?? 1),
      '-kernel', opts.kernel, '-initrd', opts.initrd,
      '-append', `console=ttyS0 panic=-1 quiet loglevel=4 ${opts.append ?? ''}`.trim(),
      '-serial', `file:${join(opts.dir, `${opts.name}.console.log`)}`,
      '-chardev', `socket,id=ctl,path=${sockPath},server=on,wait=off`,
      '-serial', 'chardev:ctl',
      // QEMU's defaults for a tap: vnet headers on, so the guest's TSO and
      // checksum offloads stay on — what a user's VM does.
      '-netdev', `tap,id=n0,ifname=${opts.tap},script=no,downscript=no`,
      '-device', `virtio-net-pci,netdev=n0,mac=${opts.mac},romfile=`,
    ];
    const proc = spawn('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    proc.stderr?.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    const kill = (): void => {
      if (proc.exitCode === null && proc.signalCode === null && proc.pid !== undefined) {
        try {
          process.kill(proc.pid, 'SIGKILL');
        } catch {
          // gone
        }
      }
    };
    const undo = onCleanup(`vm ${opts.name} (pid ${String(proc.pid)})`, kill);
    try {
      const sock = await connectWhenReady(sockPath, proc, t0 + 10_000, () => stderr);
      const vm = new PeerVm(opts, accel, proc, sock, undo);
      const deadline = t0 + timeoutMs;
      for (;;) {
        const line = await vm.nextLine(deadline);
        if (line === '@@READY') break;
        if (line === '@@TIMEOUT') throw new PeerError(`${opts.name}: no init within ${timeoutMs / 1000} s under ${accel} (console: ${vm.consoleTail()})`);
        if (line === '@@DEAD') throw new PeerError(`${opts.name}: qemu ended during boot (${vm.exitInfo || 'port closed'}): ${stderr.trim().split('\n').at(-1) ?? ''} ${vm.consoleTail()}`);
      }
      vm.bootMsValue = Date.now() - t0;
      return vm;
    } catch (e) {
      undo();
      throw e;
    }
  }

  /** Runs a shell script in the guest; resolves with its exit status and output. */
  exec(script: string, timeoutMs = 60_000): Promise<ExecResult> {
    const run = async (): Promise<ExecResult> => {
      if (this.exited) throw new PeerError(`${this.opts.name}: the VM is not running (${this.exitInfo})`);
      this.sock.write(`${Buffer.from(script).toString('base64')}\n`);
      const deadline = Date.now() + timeoutMs;
      const out: string[] = [];
      for (;;) {
        const line = await this.nextLine(deadline);
        if (line === '@@TIMEOUT') throw new PeerError(`${this.opts.name}: command did not finish within ${timeoutMs / 1000} s: ${firstLine(script)}`);
        if (line === '@@DEAD') throw new PeerError(`${this.opts.name}: the VM ended during a command (${this.exitInfo}): ${this.consoleTail()}`);
        const m = /^@@END (\d+)$/.exec(line);
        if (m) return { code: Number(m[1]), out: out.join('\n') };
        out.push(line);
      }
    };
    const p = this.queue.then(run, run);
    this.queue = p.catch(() => undefined);
    return p;
  }

  /** exec() that throws one line when the script fails. */
  async run(script: string, timeoutMs?: number): Promise<string> {
    const r = await this.exec(script, timeoutMs);
    if (r.code !== 0) throw new PeerError(`${this.opts.name}: \`${firstLine(script)}\` failed (status ${r.code}): ${r.out.trim().split('\n').slice(-3).join(' | ')}`);
    return r.out;
  }

  /** Stops qemu (SIGTERM, then SIGKILL after 3 s) and waits for it to end. */
  async stop(): Promise<void> {
    this.sock.destroy();
    if (!this.exited && this.proc.pid !== undefined) {
      const gone = new Promise<void>((resolve) => this.proc.once('exit', () => resolve()));
      try {
        process.kill(this.proc.pid, 'SIGTERM');
      } catch {
        // gone
      }
      const t = setTimeout(() => {
        try {
          if (this.proc.pid !== undefined) process.kill(this.proc.pid, 'SIGKILL');
        } catch {
          // gone
        }
      }, 3000);
      await gone;
      clearTimeout(t);
    }
    this.undo();
  }
}

function firstLine(s: string): string {
  const l = s.trim().split('\n')[0] ?? '';
  return l.length > 80 ? `${l.slice(0, 77)}...` : l;
}

async function connectWhenReady(path: string, proc: ChildProcess, deadline: number, stderr: () => string): Promise<Socket> {
  for (;;) {
    if (proc.exitCode !== null || proc.signalCode !== null) {
      throw new PeerError(`qemu ended at start: ${stderr().trim().split('\n').at(-1) ?? `exit ${String(proc.exitCode)}`}`);
    }
    if (existsSync(path)) {
      try {
        return await new Promise<Socket>((resolve, reject) => {
          const s = createConnection(path);
          s.once('connect', () => resolve(s));
          s.once('error', reject);
        });
      } catch {
        // qemu created the file but does not listen yet
      }
    }
    if (Date.now() > deadline) throw new PeerError(`qemu did not open its command port within 10 s: ${stderr().trim()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
