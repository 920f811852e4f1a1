import { Transform, type TransformCallback } from 'node:stream';
import { decodeMessage } from './decode.js';
import { ProtocolError } from './errors.js';
import { Framer, REPLY_LIMITS } from './framer.js';

const MAX_NEGOTIATE_REPLY_BYTES = 64 * 1024;

/**
 * Creates a Transform for `borg serve` stdout that drops the server's reply to the replayed
 * `negotiate` and passes every later byte through unchanged. The gate already sent its own
 * negotiate reply, and a second one would reach the client as an unexpected message.
 */
export function createNegotiateReplyFilter(): Transform {
  const framer = new Framer(REPLY_LIMITS);
  const parts: Buffer[] = [];
  let size = 0;
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
            size += event.data.length;
            if (size > MAX_NEGOTIATE_REPLY_BYTES) {
              throw new ProtocolError('negotiate reply too long');
            }
            parts.push(Buffer.from(event.data));
          } else if (event.type === 'end') {
            checkNegotiateReply(Buffer.concat(parts));
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

function checkNegotiateReply(bytes: Buffer): void {
  const reply = decodeMessage(bytes);
  // borg replies to the tuple-format negotiate with [1, msgid, nil, result].
  if (!Array.isArray(reply) || reply.length !== 4 || reply[2] !== null) {
    throw new ProtocolError('first server reply is not a negotiate reply');
  }
}
