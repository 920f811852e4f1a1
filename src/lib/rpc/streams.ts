import type { Readable, Writable } from 'node:stream';

/**
 * Unwritten bytes a relay lets queue in front of a slower reader before it pauses its input.
 * Above a stream's 16 KiB default, so one pause covers several 64 KiB pipe reads.
 */
export const MAX_QUEUED_BYTES = 1024 * 1024;

/**
 * Calls `onChunk` with each chunk of `input` until the input ends or closes, `signal` aborts or
 * `onChunk` throws. Reading pauses while one of `outputs` has more than `maxQueued` unwritten
 * bytes, and resumes once that output drains. Resolves at the end of input or on abort, and
 * rejects with the error of `input` or `onChunk`. Leaves `input` paused and never destroys it.
 */
export function pumpChunks(
  input: Readable,
  outputs: readonly Writable[],
  onChunk: (chunk: Buffer) => void,
  signal: AbortSignal,
  maxQueued = MAX_QUEUED_BYTES,
): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted || input.readableEnded || input.destroyed) {
      resolve();
      return;
    }
    let waitingFor: Writable | undefined;
    const resumeInput = () => {
      stopWaiting();
      input.resume();
    };
    const stopWaiting = () => {
      waitingFor?.off('drain', resumeInput);
      waitingFor?.off('close', resumeInput);
      waitingFor?.off('error', resumeInput);
      waitingFor = undefined;
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
      if (done || waitingFor !== undefined) return;
      const full = outputs.find((output) => isBackedUp(output, maxQueued));
      if (full !== undefined) {
        input.pause();
        waitingFor = full;
        full.on('drain', resumeInput);
        full.on('close', resumeInput);
        full.on('error', resumeInput);
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
