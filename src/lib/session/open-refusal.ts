import { once } from 'node:events';
import type { Readable, Writable } from 'node:stream';
import { encodeErrorReply } from '../rpc/replies.js';
import { REFUSAL_EXCEPTION_CLASS } from './refusals.js';

/** Longest time the gate waits for a refused client to hang up. */
const HANG_UP_TIMEOUT_MS = 10_000;

/** Bytes a refused client may still send before the gate stops listening. */
const MAX_DRAIN_BYTES = 1024 * 1024;

/**
 * Answers the client's `open` with a refusal after the gate already answered `negotiate`, then
 * waits for the client to hang up. A borg client closes the connection after a failed `open`
 * without sending more calls, so later input is read and dropped, up to a limit.
 */
export async function refuseOpen(
  input: Readable,
  output: Writable,
  openMsgid: number,
  message: string,
): Promise<void> {
  output.write(encodeErrorReply(openMsgid, REFUSAL_EXCEPTION_CLASS, message));
  let received = 0;
  const signal = AbortSignal.timeout(HANG_UP_TIMEOUT_MS);
  try {
    input.on('data', (chunk: Buffer) => {
      received += chunk.length;
      if (received > MAX_DRAIN_BYTES) {
        input.destroy();
      }
    });
    await Promise.race([once(input, 'end', { signal }), once(input, 'close', { signal })]);
  } catch {
    // Timed out or the input failed: either way the session is over.
  }
}
