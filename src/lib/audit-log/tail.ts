import { closeSync, constants as fs, fstatSync, openSync, readSync, writeSync } from 'node:fs';
import { errorCode } from './errors.js';

/** Bytes read from the end of the log to find the last record, far more than one record. */
const TAIL_WINDOW = 64 * 1024;

const HASH_PATTERN = /^[0-9a-f]{64}$/;

/** Last complete record hash of an open log file, and whether the file ends in a newline. */
export interface LogTail {
  /** Hash of the last parseable record, undefined for an empty file or an unreadable tail. */
  lastHash: string | undefined;
  /** False when a crash or a full disk left a partial last line. */
  endsWithNewline: boolean;
  size: number;
}

/** Reads the hash of the last complete record from the end of the file open as `fd`. */
export function readLogTail(fd: number): LogTail {
  const size = fstatSync(fd).size;
  if (size === 0) {
    return { lastHash: undefined, endsWithNewline: true, size };
  }
  const length = Math.min(size, TAIL_WINDOW);
  const buffer = Buffer.alloc(length);
  const read = readSync(fd, buffer, 0, length, size - length);
  const text = buffer.subarray(0, read).toString('utf8');
  const endsWithNewline = text.endsWith('\n');
  const lines = text.split('\n');
  // The first piece may start mid-line and the last one is '' or a partial line.
  const complete = lines.slice(size > length ? 1 : 0, -1);
  return { lastHash: lastRecordHash(complete), endsWithNewline, size };
}

function lastRecordHash(lines: string[]): string | undefined {
  for (let index = lines.length - 1; index >= 0; index--) {
    const hash = parseHash(lines[index]!);
    if (hash !== undefined) {
      return hash;
    }
  }
  return undefined;
}

function parseHash(line: string): string | undefined {
  try {
    const value: unknown = JSON.parse(line);
    if (value !== null && typeof value === 'object' && 'hash' in value) {
      const hash = value.hash;
      return typeof hash === 'string' && HASH_PATTERN.test(hash) ? hash : undefined;
    }
  } catch {
    // A corrupt line is not a record. Verify reports it, and the writer looks further back.
  }
  return undefined;
}

/** Path of the file that stores the hash of the newest record, so a rotated log chains on. */
export function headPath(logPath: string): string {
  return `${logPath}.head`;
}

/** Reads the head file. Returns undefined when it does not exist or contains no valid hash. */
export function readHead(logPath: string): string | undefined {
  let fd: number;
  try {
    fd = openSync(headPath(logPath), fs.O_RDONLY | fs.O_NOFOLLOW);
  } catch (error) {
    if (errorCode(error) === 'ENOENT') {
      return undefined;
    }
    throw error;
  }
  try {
    const buffer = Buffer.alloc(65);
    const read = readSync(fd, buffer, 0, 65, 0);
    const hash = buffer.subarray(0, read).toString('utf8').trim();
    return HASH_PATTERN.test(hash) ? hash : undefined;
  } finally {
    closeSync(fd);
  }
}

/** Overwrites the head file in place with one fixed-length write (64 hex digits + newline). */
export function writeHead(logPath: string, hash: string): void {
  // O_NOFOLLOW: a symlink planted at the head path must not redirect the write.
  const fd = openSync(headPath(logPath), fs.O_WRONLY | fs.O_CREAT | fs.O_NOFOLLOW, 0o640);
  try {
    writeSync(fd, `${hash}\n`, 0);
  } finally {
    closeSync(fd);
  }
}
