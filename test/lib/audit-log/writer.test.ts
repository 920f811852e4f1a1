import { spawn, spawnSync } from 'node:child_process';
import {
  appendFileSync,
  chmodSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import lockfile from 'proper-lockfile';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { computeRecordHash } from '../../../src/lib/audit-log/chain.js';
import { auditRecordSchema, GENESIS_HASH } from '../../../src/lib/audit-log/record.js';
import { AuditLogError, openAuditLog } from '../../../src/lib/audit-log/writer.js';
import { bundleFixture } from './build-fixture.js';

let root: string;
let counter = 0;

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'borg-gate-audit-writer-'));
});

afterAll(() => {
  rmSync(root, { recursive: true, force: true });
});

function freshDir(): string {
  const dir = join(root, `case-${counter++}`);
  mkdirSync(dir);
  return dir;
}

function readRecords(path: string): Array<Record<string, unknown>> {
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line));
}

/** Returns the index of the first record whose hash or link is wrong, or -1. */
function firstBrokenLink(records: Array<Record<string, unknown>>, seed = GENESIS_HASH): number {
  let prev = seed;
  for (const [index, record] of records.entries()) {
    if (record.prev_hash !== prev || computeRecordHash(record) !== record.hash) {
      return index;
    }
    prev = record.hash as string;
  }
  return -1;
}

function runWorker(script: string, logPath: string, id: number, count: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, logPath, String(id), String(count)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let stdout = '';
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
    });
    child.on('error', reject);
    child.on('close', (code) => {
      // Records must never reach stdout, which is borg's protocol channel in `serve`.
      expect(stdout).toBe('');
      resolve(code ?? -1);
    });
  });
}

describe('openAuditLog', () => {
  it('chains records from 50 processes', async () => {
    const dir = freshDir();
    const script = await bundleFixture('append-worker', dir);
    const logPath = join(dir, 'audit.log');
    const workers = 50;
    const perWorker = 4;

    const codes = await Promise.all(
      Array.from({ length: workers }, (_, id) => runWorker(script, logPath, id, perWorker)),
    );

    expect(codes.every((code) => code === 0)).toBe(true);
    const records = readRecords(logPath);
    expect(records).toHaveLength(workers * perWorker);
    expect(firstBrokenLink(records)).toBe(-1);
    const sessions = new Set(records.map((record) => record.session_id));
    for (let id = 0; id < workers; id++) {
      for (let index = 0; index < perWorker; index++) {
        expect(sessions.has(`${id}-${index}`)).toBe(true);
      }
    }
    for (const record of records) {
      expect(auditRecordSchema.safeParse(record).success).toBe(true);
    }
  }, 120_000);

  it('creates the file with mode 0640', async () => {
    const dir = freshDir();
    const previous = process.umask(0o022);
    try {
      await openAuditLog(join(dir, 'audit.log'));
    } finally {
      process.umask(previous);
    }
    expect(statSync(join(dir, 'audit.log')).mode & 0o777).toBe(0o640);
  });

  it('fills writer fields and chains from genesis', async () => {
    const dir = freshDir();
    const log = await openAuditLog(join(dir, 'audit.log'));
    await log.append({ event: 'session_start', session_id: 's1', client_id: null });
    await log.append({ event: 'session_end', session_id: 's1', exit_code: 0 });

    const records = readRecords(join(dir, 'audit.log'));
    expect(records[0]?.prev_hash).toBe(GENESIS_HASH);
    expect(records[0]?.schema_version).toBe(1);
    expect(typeof records[0]?.host).toBe('string');
    expect(records[0]?.client_id).toBeNull();
    expect(firstBrokenLink(records)).toBe(-1);
    expect(readFileSync(join(dir, 'audit.log.head'), 'utf8')).toBe(`${records[1]?.hash}\n`);
  });

  it('escapes untrusted strings', async () => {
    const dir = freshDir();
    const log = await openAuditLog(join(dir, 'audit.log'));
    await log.append({
      event: 'session_refused',
      command: 'borg serve \x1b[2J\u202e',
      restrictions: ['a\nb'],
      rpc: { refused_method: 'x\x07' },
    });

    const text = readFileSync(join(dir, 'audit.log'), 'utf8');
    for (const raw of ['\x1b', '\u202e', '\x07']) {
      expect(text.includes(raw)).toBe(false);
    }
    const [record] = readRecords(join(dir, 'audit.log'));
    expect(record?.command).toBe('borg serve \\x1b[2J\\u202e');
    expect(record?.restrictions).toEqual(['a\\nb']);
    expect(record?.rpc).toEqual({ refused_method: 'x\\x07' });
  });

  it('continues the chain after rotation', async () => {
    const dir = freshDir();
    const logPath = join(dir, 'audit.log');
    const log = await openAuditLog(logPath);
    await log.append({ event: 'check' });
    renameSync(logPath, `${logPath}.1`);
    await log.append({ event: 'check' });

    const [old] = readRecords(`${logPath}.1`);
    const [current] = readRecords(logPath);
    expect(current?.prev_hash).toBe(old?.hash);
    expect(firstBrokenLink([current!], old?.hash as string)).toBe(-1);
  });

  it('starts a new line after a partial tail', async () => {
    const dir = freshDir();
    const logPath = join(dir, 'audit.log');
    const log = await openAuditLog(logPath);
    await log.append({ event: 'check' });
    appendFileSync(logPath, '{"schema_version":1,"ti');
    await log.append({ event: 'check' });

    const lines = readFileSync(logPath, 'utf8').split('\n');
    expect(lines).toHaveLength(4);
    expect(lines[1]).toBe('{"schema_version":1,"ti');
    const first = JSON.parse(lines[0]!);
    const third = JSON.parse(lines[2]!);
    expect(third.prev_hash).toBe(first.hash);
  });

  it('rejects a record outside the schema', async () => {
    const dir = freshDir();
    const logPath = join(dir, 'audit.log');
    const log = await openAuditLog(logPath);
    const invalid = { event: 'check', client_port: 70000 } as const;

    await expect(log.append(invalid)).rejects.toThrow(/client_port/);
    expect(readFileSync(logPath, 'utf8')).toBe('');
  });

  it('rejects append after close', async () => {
    const log = await openAuditLog(join(freshDir(), 'audit.log'));
    await log.close();
    await expect(log.append({ event: 'check' })).rejects.toBeInstanceOf(AuditLogError);
  });

  it.each([
    ['missing directory', (dir: string) => join(dir, 'missing', 'audit.log'), /missing/],
    [
      'path is a directory',
      (dir: string) => {
        mkdirSync(join(dir, 'audit.log'));
        return join(dir, 'audit.log');
      },
      /EISDIR|regular file/,
    ],
    [
      'path is a symlink',
      (dir: string) => {
        writeFileSync(join(dir, 'target'), '');
        symlinkSync(join(dir, 'target'), join(dir, 'audit.log'));
        return join(dir, 'audit.log');
      },
      /ELOOP/,
    ],
    [
      'directory is a file',
      (dir: string) => {
        writeFileSync(join(dir, 'file'), '');
        return join(dir, 'file', 'audit.log');
      },
      /not a directory/,
    ],
  ])('fails closed: %s', async (_name, makePath, message) => {
    const path = makePath(freshDir());
    const error = await openAuditLog(path).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(AuditLogError);
    expect((error as AuditLogError).message).toMatch(message);
    expect((error as AuditLogError).file).toBe(path);
  });

  it.skipIf(process.getuid?.() !== 0)('fails closed for an unwritable directory', async () => {
    // Runs as uid 65534 (nobody), because root may write anywhere and the backup account may not.
    const dir = freshDir();
    chmodSync(root, 0o755);
    chmodSync(dir, 0o755);
    const script = await bundleFixture('open-log', dir);
    const logPath = join(dir, 'audit.log');

    const result = spawnSync(process.execPath, [script, logPath], {
      uid: 65534,
      gid: 65534,
      encoding: 'utf8',
    });

    expect(result.status).toBe(3);
    expect(result.stderr).toContain(
      `audit log ${logPath}: directory ${dir} is missing or not writable (EACCES)`,
    );
  });

  it('fails closed when the lock stays held', async () => {
    const logPath = join(freshDir(), 'audit.log');
    const log = await openAuditLog(logPath, { lockWaitMs: 500 });
    // A live holder refreshes the lock's mtime, so it never turns stale.
    const release = await lockfile.lock(logPath, {
      lockfilePath: `${logPath}.lock`,
      realpath: false,
    });
    try {
      const error = await log.append({ event: 'check' }).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(AuditLogError);
      expect((error as AuditLogError).message).toMatch(/audit\.log\.lock/);
    } finally {
      await release();
    }
    expect(readFileSync(logPath, 'utf8')).toBe('');
  });

  it('takes over a stale lock', async () => {
    const logPath = join(freshDir(), 'audit.log');
    const log = await openAuditLog(logPath);
    // A process killed while holding the lock leaves the directory behind.
    mkdirSync(`${logPath}.lock`);
    const minuteAgo = new Date(Date.now() - 60_000);
    utimesSync(`${logPath}.lock`, minuteAgo, minuteAgo);

    await log.append({ event: 'check' });

    expect(readRecords(logPath)).toHaveLength(1);
  });
});
