/**
 * Where device-memory receive (devmem) plugs into the NVMe/TCP host
 * queue: C2HData payload that the NIC (or the devmem transport) left in a
 * dmabuf reaches the queue's data state as `dmabuf` frags. The queue does
 * not copy them; it tells the hooks which command and data offset each one
 * belongs to, and moves on as if it had copied them.
 *
 * The one time the host needs those bytes is a data digest the NIC did not
 * check: the queue then asks the hooks to bring the device bytes of the
 * range it is about to CRC into the command's buffer (a read out of device
 * memory, counted by whoever implements it).
 *
 * With no hooks installed a dmabuf frag is a fatal error for the queue, as
 * before: a ULP that reads every byte cannot take device memory.
 */
import type { DmabufFrag } from '../../nicemu/skb.js';

export interface NvmeDevmemHooks {
  /**
   * `frag` holds bytes [datao, datao + frag.size) of the read with command
   * id `cid`. It lies wholly inside one C2HData PDU's data.
   */
  onDeviceData(cid: number, datao: number, frag: DmabufFrag): void;
  /**
   * Copies the device-held bytes of read `cid` that fall in [from, to) into
   * `dst` at the same offsets (bytes the host copied itself are there already).
   */
  fillFromDevice(cid: number, dst: Buffer, from: number, to: number): void;
}
