/**
 * Raised when a peer sends bytes that break borg's RPC framing or the gate's stricter rules.
 * `reason` is a short, fixed phrase with no peer-controlled text, suitable for the audit log.
 */
export class ProtocolError extends Error {
  override readonly name = 'ProtocolError';
  readonly reason: string;

  constructor(reason: string, options?: { cause?: unknown }) {
    super(`borg RPC protocol violation: ${reason}; the session was closed`, options);
    this.reason = reason;
  }
}
