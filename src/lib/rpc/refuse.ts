import { once } from 'node:events';
import type { Readable, Writable } from 'node:stream';
import { type DecoderOptions, decodeMultiStream } from '@msgpack/msgpack';
import { InputLimitExceeded, readChunks } from './chunks.js';
import { encodeEndedSessionReply, encodeNegotiateReply } from './replies.js';

export interface Refusal {
  /** Class name sent to the client. A name that borg does not rebuild locally prints `message` alone. */
  exceptionClass: string;
  /** Text the client prints. It must not contain paths or policy details. */
  message: string;
}

/** Reason a refusal session ended, for the audit log. */
export type RefusalOutcome = 'closed' | 'timeout' | 'input-limit' | 'request-limit' | 'malformed';

// A refusing gate gains nothing from a long conversation, so these bound what a hostile peer can
// make it read, decode and write.
const MAX_INPUT_BYTES = 1024 * 1024;
const MAX_REQUESTS = 100;
// With rawStrings the library checks str lengths against maxBinLength. A refusal has no reason to
// reject bin values, because every request is refused anyway.
const DECODE_LIMITS: DecoderOptions = {
  rawStrings: true,
  maxStrLength: MAX_INPUT_BYTES,
  maxBinLength: MAX_INPUT_BYTES,
  maxExtLength: 0,
  maxArrayLength: 100,
  maxMapLength: 100,
};

/**
 * Acts as a minimal borg server that refuses the session in-protocol: it replies to the client's
 * tuple-format `negotiate` like `borg serve` 1.2 and every later dict-format request with an error
 * reply, except `rollback`, which gets a nil result. A borg 1.2 client then prints
 * `refusal.message` and exits with rc 2 on every run. A stderr line followed by exit is not
 * reliable: the client may see stdout EOF first and drop the line.
 *
 * Resolves when the client closes its side, after `timeoutMs` (default 10 s), or when the input
 * breaks the framing or the limits above. It never destroys `input` or `output`.
 */
export async function refuseInProtocol(
  input: Readable,
  output: Writable,
  refusal: Refusal,
  options: { timeoutMs?: number } = {},
): Promise<RefusalOutcome> {
  const deadline = new AbortController();
  const timer = setTimeout(() => deadline.abort(), options.timeoutMs ?? 10_000);
  try {
    let count = 0;
    const requests = decodeMultiStream(
      readChunks(input, deadline.signal, MAX_INPUT_BYTES),
      DECODE_LIMITS,
    );
    for await (const request of requests) {
      const reply = replyTo(request, count === 0, refusal);
      if (reply === undefined) return 'malformed';
      count += 1;
      if (count > MAX_REQUESTS) return 'request-limit';
      if (!output.write(reply)) await once(output, 'drain', { signal: deadline.signal });
    }
    return deadline.signal.aborted ? 'timeout' : 'closed';
  } catch (error) {
    if (deadline.signal.aborted) return 'timeout';
    if (error instanceof InputLimitExceeded) return 'input-limit';
    // Any decode failure (bad type, over-limit length, truncated stream) ends the refusal.
    return 'malformed';
  } finally {
    clearTimeout(timer);
  }
}

/** Builds the reply to one decoded request, or undefined if the request is not borg RPC. */
function replyTo(request: unknown, isFirst: boolean, refusal: Refusal): Buffer | undefined {
  if (Array.isArray(request)) {
    // Only the opening `negotiate` may use the legacy tuple format `[1, msgid, method, args]`.
    const [, msgid, method] = request;
    if (!isFirst || request.length !== 4 || !isMsgid(msgid) || text(method) !== 'negotiate') {
      return undefined;
    }
    return encodeNegotiateReply(msgid);
  }
  if (typeof request !== 'object' || request === null) return undefined;
  const { i: msgid, m: method } = request as Record<string, unknown>;
  if (!isMsgid(msgid)) return undefined;
  return encodeEndedSessionReply(msgid, text(method), refusal.exceptionClass, refusal.message);
}

function isMsgid(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function text(value: unknown): string | undefined {
  return value instanceof Uint8Array ? Buffer.from(value).toString('latin1') : undefined;
}
