import { Transform, type TransformCallback } from 'node:stream';
import { decodeMessage } from './decode.js';
import { ProtocolError } from './errors.js';
import { Framer, REPLY_LIMITS } from './framer.js';

const MAX_NEGOTIATE_REPLY_BYTES = 64 * 1024;

/**
 * Collects the server's reply to the replayed `negotiate` so the gate can drop it. The gate
 * already sent its own negotiate reply, and a second one would reach the client as an
 * unexpected message.
 */
export class NegotiateReplyCheck {
  private readonly parts: Buffer[] = [];
  private size = 0;

  /** Copies checked bytes of the reply, so it does not keep whole input chunks in memory. */
  add(bytes: Buffer): void {
    this.size += bytes.length;
    // A server that never ends its first reply must not make the gate buffer without bound.
    if (this.size > MAX_NEGOTIATE_REPLY_BYTES) throw new ProtocolError('negotiate reply too long');
    this.parts.push(Buffer.from(bytes));
  }

  /** Checks the complete reply; throws ProtocolError if it is not a negotiate reply. */
  finish(): void {
    const reply = decodeMessage(Buffer.concat(this.parts));
    // borg replies to the tuple-format negotiate with [1, msgid, nil, result].
    if (!Array.isArray(reply) || reply.length !== 4 || reply[2] !== null) {
      throw new ProtocolError('first server reply is not a negotiate reply');
    }
  }
}

/**
 * Creates a Transform for `borg serve` stdout that drops the server's reply to the replayed
 * `negotiate` and passes every later byte through unchanged. relaySession does the same without
 * an extra stream when its `negotiateReplyPending` option is set.
 */
export function createNegotiateReplyFilter(): Transform {
  const framer = new Framer(REPLY_LIMITS);
  const check = new NegotiateReplyCheck();
  let dropped = false;
  return new Transform({
    transform(chunk: Buffer, _encoding, callback: TransformCallback) {
      if (dropped) {
        callback(null, chunk);
        return;
      }
      try {
        for (const event of framer.push(chunk)) {
          if (event.type === 'bytes') {
            check.add(event.data);
          } else if (event.type === 'end') {
            check.finish();
            dropped = true;
            const rest = framer.takeUnscanned();
            callback(null, rest.length > 0 ? rest : undefined);
            return;
          }
        }
        callback();
      } catch (error) {
        callback(error as Error);
      }
    },
  });
}
