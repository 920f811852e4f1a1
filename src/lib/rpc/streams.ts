import type { Readable, Writable } from 'node:stream';

/**
 * Unwritten bytes a relay lets queue in front of a slower reader before it pauses its input.
 * Above a stream's 16 KiB default, so one pause covers several 64 KiB pipe reads.
 */
export const MAX_QUEUED_BYTES = 1024 * 1024;

/** Resolves once `stream` can take more data, or has closed or failed and never will. */
export function waitForDrain(stream: Writable): Promise<void> {
  if (!stream.writableNeedDrain || stream.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      stream.off('drain', done);
      stream.off('close', done);
      stream.off('error', done);
      resolve();
    };
    stream.on('drain', done);
    stream.on('close', done);
    stream.on('error', done);
  });
}

/**
 * Calls `onChunk` with each chunk of `input` until the input ends or closes, `signal` aborts or
 * `onChunk` throws. Reading pauses while `output` has more than `maxQueued` unwritten bytes.
 * Resolves at the end of input or on abort, and rejects with the error of `input` or `onChunk`.
 * Leaves `input` paused and never destroys it.
 */
export function pumpChunks(
  input: Readable,
  output: Writable,
  onChunk: (chunk: Buffer) => void,
  signal: AbortSignal,
  maxQueued = MAX_QUEUED_BYTES,
): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted || input.readableEnded || input.destroyed) {
      resolve();
      return;
    }
    const resumeInput = () => {
      stopWaiting();
      input.resume();
    };
    const stopWaiting = () => {
      output.off('drain', resumeInput);
      output.off('close', resumeInput);
      output.off('error', resumeInput);
    };
    let done = false;
    const finish = (error?: unknown) => {
      done = true;
      input.off('data', onData);
      input.off('end', onEnd);
      input.off('close', onEnd);
      input.off('error', finish);
      signal.removeEventListener('abort', onEnd);
      stopWaiting();
      input.pause();
      if (error === undefined) resolve();
      else reject(error);
    };
    const onEnd = () => finish();
    const onData = (chunk: Buffer) => {
      try {
        onChunk(chunk);
      } catch (error) {
        finish(error);
        return;
      }
      if (!done && isBackedUp(output, maxQueued)) {
        input.pause();
        output.on('drain', resumeInput);
        output.on('close', resumeInput);
        output.on('error', resumeInput);
      }
    };
    input.on('data', onData);
    input.on('end', onEnd);
    input.on('close', onEnd);
    input.on('error', finish);
    signal.addEventListener('abort', onEnd, { once: true });
    input.resume();
  });
}

/** True while `output` has more than `maxQueued` unwritten bytes and will emit 'drain'. */
function isBackedUp(output: Writable, maxQueued: number): boolean {
  const open = !output.destroyed && !output.writableFinished && output.errored === null;
  return open && output.writableNeedDrain && output.writableLength > maxQueued;
}
