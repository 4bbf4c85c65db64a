/**
 * A netlink socket of the netdev family, as far as devmem goes: the handle
 * `bind-rx` is sent on. In mainline a binding lives as long as the netlink
 * socket that created it — closing it (or the process exiting) unbinds every
 * binding it made. ddplab models that ownership here, so a test or a command
 * can drop the handle and watch frags that sockets still hold outlive the
 * binding (device.ts, dmabuf.ts).
 *
 *   const nl = new NetlinkHandle(dev);
 *   const id = nl.bindRx({ queues: [1], dmabuf });
 *   ...
 *   nl.close(); // unbinds `id`
 */
import type { DevmemDevice } from './device.js';
import type { BindRxRequest } from './dmabuf.js';
import { DdplabError } from '../../base/errors.js';

export class NetlinkClosedError extends DdplabError<'EBADF'> {
  override name = 'NetlinkClosedError';
}

export class NetlinkHandle {
  private readonly owned: number[] = [];
  private closed = false;

  constructor(private readonly dev: DevmemDevice) {}

  /** bind-rx on this handle: the binding is this handle's until close(). Refusals as DevmemDevice.bindRx. */
  bindRx(req: BindRxRequest): number {
    if (this.closed) throw new NetlinkClosedError('EBADF', 'bind-rx on a closed netlink handle');
    const id = this.dev.bindRx(req);
    this.owned.push(id);
    return id;
  }

  /** Binding ids this handle made and still owns. */
  get bindings(): readonly number[] {
    return this.owned;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** The socket closes: every binding it made is unbound. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const id of this.owned.splice(0)) {
      if (this.dev.binding(id) !== undefined) this.dev.unbind(id);
    }
  }
}
