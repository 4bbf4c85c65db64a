/**
 * The Fabrics command set on the target (Linux nvmet's fabrics-cmd.c):
 * Connect, which binds a queue to a new controller (admin queue) or to an
 * existing one (I/O queue), and Property Get/Set on the admin queue, which
 * reach the controller's registers.
 *
 * Connect refusals follow nvmet: a wrong subsystem NQN, SQSIZE above MQES,
 * an unknown CNTLID or QID → Connect Invalid Parameters with IATTR/IPO
 * naming the field; a queue already connected → Command Sequence Error.
 */
import { WireError } from '../wire/errors.js';
import {
  NVMF_CNTLID_DYNAMIC,
  NVMF_CONNECT_DATA_LEN,
  NvmfConnectDataOffset,
  NvmfConnectSqeOffset,
  NvmfFctype,
  connectInvalidParamDw0,
  parseConnect,
  parseConnectData,
  parsePropertyGet,
  parsePropertySet,
  type NvmfConnectCommand,
  type NvmfConnectData,
} from '../wire/nvme-fabrics.js';
import { NvmeSc } from '../wire/nvme-status.js';
import type { Controller } from './controller.js';
import { parseOrComplete, statusOnly, type Command, type CommandQueue } from './request.js';

/** A queue that Connect can bind. */
export interface ConnectableQueue extends CommandQueue {
  /** Connect accepted: the queue joins `ctrl` as queue `c.qid` and the command completes. */
  installQueue(cmd: Command, ctrl: Controller, c: NvmfConnectCommand, hostnqn: string): void;
}

/** Connect (the only command a queue takes before it is connected). */
export function executeConnect(q: ConnectableQueue, cmd: Command, sqeBytes: Buffer, data: readonly Buffer[], dataLen: number): void {
  const c = parseOrComplete(q, cmd, NvmeSc.INVALID_FIELD, () => parseConnect(sqeBytes));
  if (c === undefined) return;
  q.acquireData(cmd, c.dptr, data, dataLen, NVMF_CONNECT_DATA_LEN, (_cmd, buf) => connectData(q, cmd, c, buf));
}

function connectData(q: ConnectableQueue, cmd: Command, c: NvmfConnectCommand, buf: Buffer): void {
  const subsys = q.subsys;
  const o = subsys.options;
  const invalid = (inData: boolean, ipo: number): void =>
    q.complete(cmd, { status: NvmeSc.CONNECT_INVALID_PARAM, dnr: true, dw0: connectInvalidParamDw0({ inData, ipo }) });
  if (c.recfmt !== 0) {
    q.complete(cmd, statusOnly(NvmeSc.CONNECT_FORMAT));
    return;
  }
  let d: NvmfConnectData;
  try {
    d = parseConnectData(buf);
  } catch (e) {
    const field = e instanceof WireError ? e.detail.field : undefined;
    invalid(true, field === 'hostnqn' ? NvmfConnectDataOffset.HOSTNQN : NvmfConnectDataOffset.SUBNQN);
    return;
  }
  if (d.subnqn !== subsys.nqn) {
    subsys.log(`${q.tag}: Connect to unknown subsystem '${d.subnqn}'`);
    invalid(true, NvmfConnectDataOffset.SUBNQN);
    return;
  }
  if (c.sqsize === 0 || c.sqsize > o.maxQueueSize - 1) {
    invalid(false, NvmfConnectSqeOffset.SQSIZE);
    return;
  }
  let ctrl: Controller | undefined;
  if (c.qid === 0) {
    if (d.cntlid !== NVMF_CNTLID_DYNAMIC) {
      invalid(true, NvmfConnectDataOffset.CNTLID);
      return;
    }
    ctrl = subsys.createController(d.hostnqn, d.hostid, c.kato);
    if (!ctrl) {
      q.complete(cmd, statusOnly(NvmeSc.CONNECT_CTRL_BUSY));
      return;
    }
  } else {
    if (c.qid > o.maxIoQueues) {
      invalid(false, NvmfConnectSqeOffset.QID);
      return;
    }
    ctrl = subsys.controllers.get(d.cntlid);
    if (!ctrl || ctrl.hostNqn !== d.hostnqn || !ctrl.hostId.equals(d.hostid)) {
      invalid(true, NvmfConnectDataOffset.CNTLID);
      return;
    }
    if (ctrl.hasQueue(c.qid)) {
      q.complete(cmd, statusOnly(NvmeSc.CMD_SEQ_ERROR));
      return;
    }
  }
  q.installQueue(cmd, ctrl, c, d.hostnqn);
}

/** A Fabrics command on a connected admin queue: Property Get/Set; a second Connect is out of sequence. */
export function executeFabricsAdmin(q: CommandQueue, ctrl: Controller, cmd: Command, sqeBytes: Buffer, fctype: number): void {
  if (fctype === NvmfFctype.PROPERTY_GET) {
    const g = parseOrComplete(q, cmd, NvmeSc.INVALID_FIELD, () => parsePropertyGet(sqeBytes));
    if (g === undefined) return;
    const r = ctrl.propertyGet(g.offset, g.size);
    q.complete(cmd, {
      status: r.status,
      dnr: r.dnr,
      dw0: Number(r.value & 0xffff_ffffn),
      dw1: Number(r.value >> 32n),
    });
  } else if (fctype === NvmfFctype.PROPERTY_SET) {
    const s = parseOrComplete(q, cmd, NvmeSc.INVALID_FIELD, () => parsePropertySet(sqeBytes));
    if (s === undefined) return;
    const r = ctrl.propertySet(s.offset, s.size, s.value);
    q.complete(cmd, { status: r.status, dnr: r.dnr });
  } else if (fctype === NvmfFctype.CONNECT) {
    q.complete(cmd, statusOnly(NvmeSc.CMD_SEQ_ERROR));
  } else {
    q.complete(cmd, statusOnly(NvmeSc.INVALID_OPCODE));
  }
}
