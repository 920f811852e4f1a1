import { closeSync, fstatSync, openSync, readSync, statSync } from 'node:fs';
import { StringDecoder } from 'node:string_decoder';
import { setTimeout as sleep } from 'node:timers/promises';
import { errorCode } from './errors.js';

export interface FollowOptions {
  /** Lines of the current file to return first (default 10). */
  initialLines?: number;
  /** Milliseconds between checks for new data and rotation (default 250). */
  pollMs?: number;
  signal?: AbortSignal;
  /** Called when the file was replaced (rotated) or cut short, with the event name. */
  onReopen?: (reason: 'rotated' | 'truncated') => void;
}

const READ_SIZE = 256 * 1024;

/**
 * Yields complete lines appended to `logPath`, like `tail -F`: it polls, and when the
 * path names a new file after rotation it reads the old file to its end, then the new
 * file from its start. Ends when `signal` aborts.
 */
export async function* followLog(
  logPath: string,
  options: FollowOptions = {},
): AsyncGenerator<string> {
  const pollMs = options.pollMs ?? 250;
  let fd = openSync(logPath, 'r');
  let position = fstatSync(fd).size;
  let pending = '';
  // Keeps a multi-byte character that a read cut in two until its other bytes arrive.
  let decoder = new StringDecoder('utf8');
  yield* lastLines(fd, position, options.initialLines ?? 10);
  try {
    while (options.signal?.aborted !== true) {
      const read = readAppended(fd, position);
      position += read.length;
      const lines = (pending + decoder.write(read)).split('\n');
      pending = lines.pop()!;
      yield* lines;
      if (read.length > 0) {
        continue;
      }
      const change = detectChange(logPath, fd, position);
      if (change !== undefined) {
        options.onReopen?.(change);
        closeSync(fd);
        fd = openSync(logPath, 'r');
        position = 0;
        pending = '';
        decoder = new StringDecoder('utf8');
        continue;
      }
      await sleep(pollMs, undefined, { signal: options.signal }).catch(() => undefined);
    }
  } finally {
    closeSync(fd);
  }
}

function readAppended(fd: number, position: number): Buffer {
  const buffer = Buffer.alloc(READ_SIZE);
  const bytes = readSync(fd, buffer, 0, READ_SIZE, position);
  return buffer.subarray(0, bytes);
}

/** Returns how the file changed under the path, or undefined when it did not. */
function detectChange(
  logPath: string,
  fd: number,
  position: number,
): 'rotated' | 'truncated' | undefined {
  let current: ReturnType<typeof statSync>;
  try {
    current = statSync(logPath);
  } catch (error) {
    // Between logrotate's rename and create the path briefly does not exist.
    if (errorCode(error) === 'ENOENT') {
      return undefined;
    }
    throw error;
  }
  if (current.ino !== fstatSync(fd).ino || current.dev !== fstatSync(fd).dev) {
    return 'rotated';
  }
  return current.size < position ? 'truncated' : undefined;
}

/** Returns the last `count` complete lines before `end`, read from at most 1 MiB. */
function lastLines(fd: number, end: number, count: number): string[] {
  if (count <= 0 || end === 0) {
    return [];
  }
  const length = Math.min(end, 1024 * 1024);
  const buffer = Buffer.alloc(length);
  const bytes = readSync(fd, buffer, 0, length, end - length);
  const lines = buffer.toString('utf8', 0, bytes).split('\n');
  lines.pop();
  if (length < end) {
    lines.shift();
  }
  return lines.slice(-count);
}
