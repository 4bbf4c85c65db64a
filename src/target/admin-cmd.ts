/**
 * The admin command set on the target (Linux nvmet's admin-cmd.c): what a
 * host sends on a connected admin queue — Identify, Keep Alive, Set/Get
 * Features for the few a host uses during bring-up, Asynchronous Event
 * Request (held), Get Log Page (zeros) — with Fabrics commands handed to
 * fabrics-cmd.ts. Anything but a Fabrics command waits for CC.EN (CSTS.RDY).
 */
import { NVME_IDENTIFY_DATA_LEN, parseIdentify } from '../wire/nvme-identify.js';
import { NvmeAdminOpcode, NVME_FABRICS_OPCODE, parseSqe, sglIsTransportData } from '../wire/nvme-sqe.js';
import { NvmeSc } from '../wire/nvme-status.js';
import type { Controller } from './controller.js';
import { executeFabricsAdmin } from './fabrics-cmd.js';
import { bufferSource, statusOnly, type Command, type CommandQueue, type ReplyFields } from './request.js';

/** Feature identifiers the target answers (NVMe base spec, Set Features). */
const FID_NUM_QUEUES = 0x07;
const FID_ASYNC_EVENT_CONFIG = 0x0b;
const FID_KATO = 0x0f;

export function executeAdminCommand(q: CommandQueue, cmd: Command, sqeBytes: Buffer): void {
  const ctrl = q.ctrl;
  if (!ctrl) throw new Error('live admin queue without a controller');
  q.stats.adminCommands++;
  ctrl.noteTraffic();
  const sqe = parseSqe(sqeBytes);
  if (sqe.opcode === NVME_FABRICS_OPCODE) {
    executeFabricsAdmin(q, ctrl, cmd, sqeBytes, sqe.nsid & 0xff);
    return;
  }
  if (!ctrl.ready) {
    q.complete(cmd, statusOnly(NvmeSc.CMD_SEQ_ERROR));
    return;
  }
  switch (sqe.opcode) {
    case NvmeAdminOpcode.IDENTIFY: {
      const id = parseIdentify(sqeBytes);
      if (!sglIsTransportData(id.dptr) || id.dptr.length !== NVME_IDENTIFY_DATA_LEN) {
        q.complete(cmd, statusOnly(NvmeSc.SGL_INVALID_DATA));
        return;
      }
      const r = ctrl.identify(id.cns, id.nsid);
      q.complete(cmd, r.data ? { c2h: bufferSource(r.data) } : { status: r.status, dnr: r.dnr });
      return;
    }
    case NvmeAdminOpcode.KEEP_ALIVE:
      ctrl.keepAlive();
      q.complete(cmd, ctrl.katoMs === 0 ? statusOnly(NvmeSc.KA_TIMEOUT_INVALID) : {});
      return;
    case NvmeAdminOpcode.SET_FEATURES:
    case NvmeAdminOpcode.GET_FEATURES:
      q.complete(cmd, features(q, ctrl, sqe.opcode === NvmeAdminOpcode.SET_FEATURES, sqe.cdw10 & 0xff));
      return;
    case NvmeAdminOpcode.ASYNC_EVENT:
      // Held until the association ends, as a controller with nothing to report does.
      cmd.held = true;
      return;
    case NvmeAdminOpcode.GET_LOG_PAGE: {
      // NUMD (0's based dwords) = NUMDU:NUMDL; every log page reads as zeros.
      const numd = (((sqe.cdw11 & 0xffff) << 16) | (sqe.cdw10 >>> 16)) + 1;
      const len = numd * 4;
      if (!sglIsTransportData(sqe.dptr) || sqe.dptr.length !== len || len > 1024 * 1024) {
        q.complete(cmd, statusOnly(NvmeSc.SGL_INVALID_DATA));
        return;
      }
      q.complete(cmd, { c2h: bufferSource(Buffer.alloc(len)) });
      return;
    }
    default:
      q.complete(cmd, statusOnly(NvmeSc.INVALID_OPCODE));
  }
}

/** Set/Get Features for the few a host sends during bring-up. */
function features(q: CommandQueue, ctrl: Controller, set: boolean, fid: number): ReplyFields {
  const n = q.subsys.options.maxIoQueues - 1;
  switch (fid) {
    case FID_NUM_QUEUES:
      // NSQA/NCQA, 0's based: what the controller allows whatever was asked.
      return { dw0: ((n << 16) | n) >>> 0 };
    case FID_ASYNC_EVENT_CONFIG:
      return {};
    case FID_KATO:
      return set ? {} : { dw0: ctrl.katoMs };
    default:
      return statusOnly(NvmeSc.INVALID_FIELD);
  }
}
