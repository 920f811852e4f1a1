import {
  accessSync,
  closeSync,
  fdatasyncSync,
  constants as fs,
  fstatSync,
  openSync,
  statSync,
  writeSync,
} from 'node:fs';
import { hostname } from 'node:os';
import { dirname, resolve } from 'node:path';
import { computeRecordHash } from './chain.js';
import { AuditLogError, errorCode } from './errors.js';
import { type LockOptions, withAppendLock } from './lock.js';
import {
  type AuditRecord,
  type AuditRecordInput,
  auditRecordSchema,
  DEFAULT_MAX_LENGTH,
  escapeUntrusted,
  FIELD_MAX_LENGTH,
  FIELD_ORDER,
  GENESIS_HASH,
  SCHEMA_VERSION,
} from './record.js';
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
  closeSync(openLogFile(file));
  const host = escapeUntrusted(hostname());
  let closed = false;

  return {
    path: file,
    async append(input) {
      if (closed) {
        throw new AuditLogError(file, 'append after close: open the log again');
      }
      const body = buildBody(input, host);
      validateBody(file, body);
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

/** Fills in the writer's fields and escapes every string the caller passed. */
function buildBody(input: AuditRecordInput, host: string): Record<string, unknown> {
  const body: Record<string, unknown> = {
    schema_version: SCHEMA_VERSION,
    time: new Date().toISOString(),
    host,
  };
  for (const [key, value] of Object.entries(input)) {
    const maxLength = FIELD_MAX_LENGTH[key as keyof AuditRecord] ?? DEFAULT_MAX_LENGTH;
    body[key] = escapeStrings(value, maxLength);
  }
  return body;
}

function escapeStrings(value: unknown, maxLength: number): unknown {
  if (typeof value === 'string') {
    return escapeUntrusted(value, maxLength);
  }
  if (Array.isArray(value)) {
    return value.map((item) => escapeStrings(item, maxLength));
  }
  if (value !== null && typeof value === 'object') {
    const copy: Record<string, unknown> = {};
    for (const [key, member] of Object.entries(value)) {
      copy[key] = escapeStrings(member, maxLength);
    }
    return copy;
  }
  return value;
}

/** Runs under the lock: reads the previous hash, appends the line with one write(2). */
function appendLocked(file: string, body: Record<string, unknown>, fsync: boolean): void {
  // Reopened per append: after logrotate renames the file, this path names the new one.
  const fd = openLogFile(file);
  try {
    const tail = readLogTail(fd);
    const prevHash = tail.lastHash ?? readHead(file) ?? GENESIS_HASH;
    const { line, hash } = serializeRecord(body, prevHash);
    // A partial last line (crash, full disk) stays as evidence, and the record starts a new line.
    const text = tail.endsWithNewline ? line : `\n${line}`;
    const buffer = Buffer.from(text, 'utf8');
    const written = writeSync(fd, buffer);
    if (written !== buffer.length) {
      throw new AuditLogError(
        file,
        `short write (${written} of ${buffer.length} bytes): check free space`,
      );
    }
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
 * Validates a record body before the lock is taken, with placeholder chain fields, so
 * the time under the lock stays short.
 */
function validateBody(file: string, body: Record<string, unknown>): void {
  const result = auditRecordSchema.safeParse({
    ...body,
    prev_hash: GENESIS_HASH,
    hash: GENESIS_HASH,
  });
  if (!result.success) {
    const issue = result.error.issues[0];
    throw new AuditLogError(
      file,
      `record does not match the schema at ${issue?.path.join('.') ?? '?'}: ${issue?.message}`,
      { cause: result.error },
    );
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
