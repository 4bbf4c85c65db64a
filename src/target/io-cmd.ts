/**
 * The NVM I/O command set on the target (Linux nvmet's io-cmd-bdev.c and
 * io-cmd-file.c): Read, Write and Flush on the one namespace. A read's data
 * is produced from the store only when its C2HData PDU is written (the
 * C2HSource), so queued completions cost descriptors, not megabytes; a
 * write's data arrives in-capsule or by R2T through the queue's acquireData.
 */
import { parseReadWrite } from '../wire/nvme-io.js';
import { NvmeIoOpcode, NVME_FABRICS_OPCODE, sglIsTransportData } from '../wire/nvme-sqe.js';
import { NvmeSc } from '../wire/nvme-status.js';
import { NvmfFctype } from '../wire/nvme-fabrics.js';
import { NSID } from './controller.js';
import { maxTransferBytes } from './options.js';
import { parseOrComplete, statusOnly, type Command, type CommandQueue } from './request.js';

export function executeIoCommand(q: CommandQueue, cmd: Command, sqeBytes: Buffer, data: readonly Buffer[], dataLen: number): void {
  const ctrl = q.ctrl;
  if (!ctrl) throw new Error('live I/O queue without a controller');
  ctrl.noteTraffic();
  if (cmd.opcode === NVME_FABRICS_OPCODE) {
    const fctype = sqeBytes[4];
    q.complete(cmd, statusOnly(fctype === NvmfFctype.CONNECT ? NvmeSc.CMD_SEQ_ERROR : NvmeSc.INVALID_OPCODE));
    return;
  }
  if (!ctrl.ready) {
    q.complete(cmd, statusOnly(NvmeSc.CMD_SEQ_ERROR));
    return;
  }
  switch (cmd.opcode) {
    case NvmeIoOpcode.READ:
    case NvmeIoOpcode.WRITE:
      readWrite(q, cmd, sqeBytes, data, dataLen);
      return;
    case NvmeIoOpcode.FLUSH: {
      q.stats.flushes++;
      const nsid = sqeBytes.readUInt32LE(4);
      if (nsid !== NSID && nsid !== 0xffffffff) {
        q.complete(cmd, statusOnly(NvmeSc.INVALID_NS));
        return;
      }
      q.subsys.store.flush();
      q.complete(cmd, {});
      return;
    }
    default:
      q.complete(cmd, statusOnly(NvmeSc.INVALID_OPCODE));
  }
}

function readWrite(q: CommandQueue, cmd: Command, sqeBytes: Buffer, data: readonly Buffer[], dataLen: number): void {
  const store = q.subsys.store;
  const rw = parseOrComplete(q, cmd, NvmeSc.LBA_RANGE, () => parseReadWrite(sqeBytes));
  if (rw === undefined) return;
  if (rw.nsid !== NSID) {
    q.complete(cmd, statusOnly(NvmeSc.INVALID_NS));
    return;
  }
  const blocks = rw.nlb + 1;
  const len = blocks * store.lbaSize;
  if (rw.slba + blocks > store.nlb) {
    q.complete(cmd, statusOnly(NvmeSc.LBA_RANGE));
    return;
  }
  if (len > maxTransferBytes(q.subsys.options)) {
    q.complete(cmd, statusOnly(NvmeSc.INVALID_FIELD));
    return;
  }
  const byteOffset = rw.slba * store.lbaSize;
  if (rw.kind === 'read') {
    q.stats.reads++;
    if (!sglIsTransportData(rw.dptr)) {
      q.complete(cmd, statusOnly(NvmeSc.SGL_INVALID_TYPE));
      return;
    }
    if (rw.dptr.length !== len) {
      q.complete(cmd, statusOnly(NvmeSc.SGL_INVALID_DATA));
      return;
    }
    q.complete(cmd, {
      c2h: {
        lenBytes: len,
        fresh: true,
        chunk: (off, n, pool) => {
          const b = pool !== undefined ? pool.take(n) : Buffer.allocUnsafe(n);
          store.read(byteOffset + off, b);
          return b;
        },
      },
    });
    return;
  }
  q.stats.writes++;
  q.acquireData(cmd, rw.dptr, data, dataLen, len, (_c, buf) => {
    store.write(byteOffset, buf);
    q.stats.writeBytes += buf.length;
    q.complete(cmd, {});
  });
}
