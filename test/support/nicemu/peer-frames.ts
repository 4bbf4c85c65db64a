/**
 * Frames of one test connection between the target (the peer, port 4420)
 * and the host (port 40000), for NIC tests that feed NicEmu real frames.
 */
import type { FlowKey } from '../../../src/nicemu/flow-table.js';
import { buildTcpFrame, type TcpFrameSpec } from '../../../src/wire/frame.js';
import { TCP_ACK } from '../../../src/wire/tcp.js';

export const HOST_MAC = Buffer.from([2, 0, 0, 0, 0, 2]);
export const PEER_MAC = Buffer.from([2, 0, 0, 0, 0, 1]);
export const HOST_IP = 0xc0000202;
export const PEER_IP = 0xc0000201;
/** The connection as the host's NIC steers it. */
export const PEER_KEY: FlowKey = { remoteIp: PEER_IP, remotePort: 4420, localIp: HOST_IP, localPort: 40000 };

/** A segment from the peer to the host: ack 77, window 512, ACK, no options unless `spec` says otherwise. */
export function peerFrame(spec: Partial<TcpFrameSpec> & { readonly seq: number }): Buffer {
  return buildTcpFrame({
    srcMac: PEER_MAC,
    dstMac: HOST_MAC,
    srcIp: PEER_IP,
    dstIp: HOST_IP,
    srcPort: 4420,
    dstPort: 40000,
    ack: 77,
    flags: TCP_ACK,
    window: 512,
    ...spec,
  });
}
