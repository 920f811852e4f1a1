import type { Readable, Writable } from 'node:stream';
import { encodeErrorReply } from '../rpc/replies.js';
import { REFUSAL_EXCEPTION_CLASS } from './refusals.js';

/** Maximum time the gate waits for a refused client to hang up. */
const HANG_UP_TIMEOUT_MS = 10_000;

/** Bytes a refused client may still send before the gate stops listening. */
const MAX_DRAIN_BYTES = 1024 * 1024;

/**
 * Replies to the client's `open` with a refusal after the gate already replied to `negotiate`, then
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
  await waitForHangUp(input);
}

/** Resolves when the input ends, fails or passes the drain limit, or after the timeout. */
function waitForHangUp(input: Readable): Promise<void> {
  if (input.readableEnded || input.destroyed) {
    return Promise.resolve();
  }
  return new Promise((resolve) => {
    let received = 0;
    // A referenced timer keeps the process alive until the client hangs up or time runs out.
    const timer = setTimeout(finish, HANG_UP_TIMEOUT_MS);
    function finish() {
      clearTimeout(timer);
      input.off('data', onData);
      resolve();
    }
    function onData(chunk: Buffer) {
      received += chunk.length;
      if (received > MAX_DRAIN_BYTES) {
        finish();
      }
    }
    input.on('data', onData);
    input.once('end', finish);
    input.once('close', finish);
    input.once('error', finish);
    input.resume();
  });
}
