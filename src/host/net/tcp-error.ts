import { DdplabError } from '../../base/errors.js';

/** Why a TcpSocket operation failed or its connection ended, with the errno Linux would give. */
export type TcpErrorCode =
  /** RST in answer to our SYN. */
  | 'ECONNREFUSED'
  /** The peer reset an established connection. */
  | 'ECONNRESET'
  /** SYN or data retransmissions exhausted. */
  | 'ETIMEDOUT'
  /** The local side aborted (abort(), or close() before the handshake ended). */
  | 'ECONNABORTED'
  /** Write after close() or after the connection died. */
  | 'EPIPE'
  /** An operation the current state does not allow (connect twice, ...). */
  | 'EINVAL';

export class TcpError extends DdplabError<TcpErrorCode> {
  override name = 'TcpError';
}
