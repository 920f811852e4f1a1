import {
  accessSync,
  closeSync,
  fdatasyncSync,
  constants as fs,
  fstatSync,
  ftruncateSync,
  openSync,
  statfsSync,
  statSync,
  writeSync,
} from 'node:fs';
import { hostname } from 'node:os';
import { dirname, resolve } from 'node:path';
import { buildRecordBody, checkRecordBody } from './body.js';
import { computeRecordHash } from './chain.js';
import { AuditLogError, errorCode } from './errors.js';
import { escapeUntrusted } from './escape.js';
import { FIELD_ORDER, GENESIS_HASH } from './fields.js';
import { type LockOptions, withAppendLock } from './lock.js';
import type { AuditRecordInput } from './record.js';
import { readHead, readLogTail, writeHead } from './tail.js';

export { AuditLogError } from './errors.js';

/** An opened audit log. Every append takes the lock, so many processes may share one file. */
export interface AuditLog {
  readonly path: string;
  /** Escapes, chains and appends one record. Rejects with `AuditLogError` if it was not written. */
  append(record: AuditRecordInput): Promise<void>;
  /** Marks the log closed so later appends reject. No file stays open between appends. */
  close(): Promise<void>;
}

export interface AuditLogOptions extends LockOptions {
  /** Flush each record to disk before `append` resolves (default true). */
  fsync?: boolean;
}

// O_NOFOLLOW: a symlink planted at the log path must not make the gate append elsewhere.
const APPEND_FLAGS = fs.O_RDWR | fs.O_APPEND | fs.O_CREAT | fs.O_NOFOLLOW;
const FILE_MODE = 0o640;

/**
 * Opens (creating if needed, mode 0640) the audit log at `path` and checks that it is
 * a writable regular file. Throws `AuditLogError` when it is not, so the caller can
 * refuse the session before anything runs. The directory must already exist.
 */
export async function openAuditLog(path: string, options: AuditLogOptions = {}): Promise<AuditLog> {
  const file = resolve(path);
  checkDirectory(file);
  checkFreeSpace(file);
  closeSync(openLogFile(file));
  const host = escapeUntrusted(hostname());
  let closed = false;

  return {
    path: file,
    async append(input) {
      if (closed) {
        throw new AuditLogError(file, 'append after close: open the log again');
      }
      const body = buildRecordBody(input, host);
      checkRecordBody(file, body);
      await withAppendLock(file, options, () => appendLocked(file, body, options.fsync ?? true));
    },
    async close() {
      closed = true;
    },
  };
}

function checkDirectory(file: string): void {
  const directory = dirname(file);
  try {
    if (!statSync(directory).isDirectory()) {
      throw new AuditLogError(file, `${directory} is not a directory`);
    }
    // The lock and the head file are created next to the log, so appends need this.
    accessSync(directory, fs.W_OK);
  } catch (error) {
    if (error instanceof AuditLogError) {
      throw error;
    }
    throw new AuditLogError(
      file,
      `directory ${directory} is missing or not writable (${errorCode(error) ?? 'error'}): ` +
        'create it, owned by the user that runs borg-gate, mode 2750',
      { cause: error },
    );
  }
}

/**
 * Space a session's records need, with room to spare: a session writes two records of a few
 * hundred bytes each. An estimate, not a guarantee, since sessions share the file system.
 */
const MIN_FREE_BYTES = 16 * 1024;

function checkFreeSpace(file: string): void {
  const directory = dirname(file);
  const info = statfsSync(directory);
  const free = info.bavail * info.bsize;
  // A session allowed on a full disk would run with no record of how it ended.
  if (free < MIN_FREE_BYTES) {
    throw new AuditLogError(
      file,
      `the file system of ${directory} has ${free} bytes free, below the ${MIN_FREE_BYTES} ` +
        'bytes kept for audit records: free space there',
    );
  }
}

function openLogFile(file: string): number {
  let fd: number;
  try {
    fd = openSync(file, APPEND_FLAGS, FILE_MODE);
  } catch (error) {
    throw new AuditLogError(
      file,
      `can not open for appending (${errorCode(error) ?? 'error'}): check that it is a ` +
        'regular file, not a symlink, writable by the user that runs borg-gate',
      { cause: error },
    );
  }
  if (!fstatSync(fd).isFile()) {
    closeSync(fd);
    throw new AuditLogError(file, 'is not a regular file: move it away or fix the log path');
  }
  return fd;
}

/** Runs under the lock: reads the previous hash, appends the line with one write(2). */
function appendLocked(file: string, body: Record<string, unknown>, fsync: boolean): void {
  // Reopened per append: after logrotate renames the file, this path names the new one.
  const fd = openLogFile(file);
  try {
    const tail = readLogTail(fd);
    const prevHash = tail.lastHash ?? readHead(file) ?? GENESIS_HASH;
    const { line, hash } = serializeRecord(body, prevHash);
    // A partial last line left by a crash stays as evidence, and the record starts a new line.
    const text = tail.endsWithNewline ? line : `\n${line}`;
    writeWhole(file, fd, Buffer.from(text, 'utf8'), tail.size);
    if (fsync) {
      fdatasyncSync(fd);
    }
    writeHead(file, hash);
  } catch (error) {
    if (error instanceof AuditLogError) {
      throw error;
    }
    throw new AuditLogError(file, `append failed (${errorCode(error) ?? 'error'})`, {
      cause: error,
    });
  } finally {
    closeSync(fd);
  }
}

/**
 * Appends `buffer` with one write(2). On a short or failed write (a full disk) the file is cut
 * back to `size`, so no partial record is left behind for readers.
 */
function writeWhole(file: string, fd: number, buffer: Buffer, size: number): void {
  let written = 0;
  try {
    written = writeSync(fd, buffer);
  } finally {
    if (written !== buffer.length) {
      cutBack(fd, size);
    }
  }
  if (written !== buffer.length) {
    throw new AuditLogError(
      file,
      `short write (${written} of ${buffer.length} bytes): check free space`,
    );
  }
}

function cutBack(fd: number, size: number): void {
  try {
    ftruncateSync(fd, size);
  } catch {
    // NOTE: if even the truncate fails, the partial line stays; verify reports it as truncated.
  }
}

/** Adds the chain fields and returns the record's line in field order. */
function serializeRecord(
  body: Record<string, unknown>,
  prevHash: string,
): { line: string; hash: string } {
  const unhashed = { ...body, prev_hash: prevHash };
  const record = { ...unhashed, hash: computeRecordHash(unhashed) };
  const ordered: Record<string, unknown> = {};
  for (const key of FIELD_ORDER) {
    if (key in record) {
      ordered[key] = (record as Record<string, unknown>)[key];
    }
  }
  return { line: `${JSON.stringify(ordered)}\n`, hash: record.hash };
}
