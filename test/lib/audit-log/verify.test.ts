import { mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { computeRecordHash } from '../../../src/lib/audit-log/chain.js';
import { AuditLogError } from '../../../src/lib/audit-log/errors.js';
import { verifyAuditLog } from '../../../src/lib/audit-log/verify.js';
import { openAuditLog } from '../../../src/lib/audit-log/writer.js';

let root: string;
let counter = 0;

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'borg-gate-audit-verify-'));
});

afterAll(() => {
  rmSync(root, { recursive: true, force: true });
});

/** Writes `count` records to a fresh log and returns its path. */
async function writeLog(count: number, logPath = join(freshDir(), 'audit.log')): Promise<string> {
  const log = await openAuditLog(logPath, { fsync: false });
  for (let index = 0; index < count; index++) {
    await log.append({ event: 'check', session_id: `s${index}`, client_id: 'laptop' });
  }
  await log.close();
  return logPath;
}

function freshDir(): string {
  const dir = join(root, `case-${counter++}`);
  mkdirSync(dir);
  return dir;
}

function readLines(path: string): string[] {
  return readFileSync(path, 'utf8').split('\n').slice(0, -1);
}

function writeLines(path: string, lines: string[]): void {
  writeFileSync(path, `${lines.join('\n')}\n`);
}

/** Returns a copy of a record line with new content and a correctly recomputed hash. */
function forgeRecord(line: string, changes: Record<string, unknown>): string {
  const record = { ...JSON.parse(line), ...changes };
  return JSON.stringify({ ...record, hash: computeRecordHash(record) });
}

async function firstProblem(logPath: string) {
  const result = await verifyAuditLog(logPath);
  expect(result.ok).toBe(false);
  return result.problems[0];
}

describe('verifyAuditLog', () => {
  it('accepts an untouched log', async () => {
    const logPath = await writeLog(6);

    const result = await verifyAuditLog(logPath);

    expect(result.ok).toBe(true);
    expect(result.records).toBe(6);
    expect(result.problems).toEqual([]);
    expect(result.startsMidChain).toBe(false);
    expect(result.lastHash).toBe(JSON.parse(readLines(logPath)[5]!).hash);
  });

  it('detects an edited record', async () => {
    const logPath = await writeLog(6);
    const lines = readLines(logPath);
    lines[2] = lines[2]!.replace('"client_id":"laptop"', '"client_id":"other"');
    writeLines(logPath, lines);

    const problem = await firstProblem(logPath);

    expect(problem).toMatchObject({ file: logPath, line: 3, kind: 'hash_mismatch' });
  });

  it('detects an inserted forged record', async () => {
    const logPath = await writeLog(6);
    const lines = readLines(logPath);
    lines.splice(
      2,
      0,
      forgeRecord(lines[1]!, { session_id: 'forged', prev_hash: JSON.parse(lines[1]!).hash }),
    );
    writeLines(logPath, lines);

    const problem = await firstProblem(logPath);

    // The forged record links correctly, so the break shows on the record after it.
    expect(problem).toMatchObject({ file: logPath, line: 4, kind: 'broken_link' });
  });

  it('detects an inserted unhashed record', async () => {
    const logPath = await writeLog(6);
    const lines = readLines(logPath);
    lines.splice(2, 0, lines[1]!.replace('"session_id":"s1"', '"session_id":"forged"'));
    writeLines(logPath, lines);

    const problem = await firstProblem(logPath);

    expect(problem).toMatchObject({ file: logPath, line: 3 });
  });

  it('detects a deleted record', async () => {
    const logPath = await writeLog(6);
    const lines = readLines(logPath);
    lines.splice(2, 1);
    writeLines(logPath, lines);

    const problem = await firstProblem(logPath);

    expect(problem).toMatchObject({ file: logPath, line: 3, kind: 'broken_link' });
  });

  it('detects reordered records', async () => {
    const logPath = await writeLog(6);
    const lines = readLines(logPath);
    [lines[2], lines[3]] = [lines[3]!, lines[2]!];
    writeLines(logPath, lines);

    const problem = await firstProblem(logPath);

    expect(problem).toMatchObject({ file: logPath, line: 3, kind: 'broken_link' });
  });

  it('detects a cut-off last line', async () => {
    const logPath = await writeLog(6);
    const text = readFileSync(logPath, 'utf8');
    writeFileSync(logPath, text.slice(0, text.length - 40));

    const result = await verifyAuditLog(logPath);

    expect(result.ok).toBe(false);
    expect(result.problems[0]).toMatchObject({ file: logPath, line: 6, kind: 'truncated' });
    expect(result.problems[1]).toMatchObject({ kind: 'head_mismatch' });
  });

  it('detects records removed from the end', async () => {
    const logPath = await writeLog(6);
    writeLines(logPath, readLines(logPath).slice(0, 4));

    const problem = await firstProblem(logPath);

    expect(problem).toMatchObject({ file: `${logPath}.head`, line: 1, kind: 'head_mismatch' });
  });

  it('reports a corrupt line by number', async () => {
    const logPath = await writeLog(6);
    const lines = readLines(logPath);
    lines[2] = 'not json {';
    writeLines(logPath, lines);

    const result = await verifyAuditLog(logPath);

    expect(result.ok).toBe(false);
    expect(result.problems[0]).toMatchObject({ file: logPath, line: 3, kind: 'corrupt' });
    expect(result.problems[1]).toMatchObject({ file: logPath, line: 4, kind: 'broken_link' });
  });

  it('reports a record with raw control characters', async () => {
    const logPath = await writeLog(3);
    const lines = readLines(logPath);
    lines[1] = forgeRecord(lines[1]!, { command: 'borg serve\u001b[2J' });
    writeLines(logPath, lines);

    const problem = await firstProblem(logPath);

    expect(problem).toMatchObject({ file: logPath, line: 2, kind: 'schema' });
  });

  it('escapes an unknown key in the message', async () => {
    const logPath = await writeLog(2);
    const lines = readLines(logPath);
    lines[1] = forgeRecord(lines[1]!, { '\u001b[2Jx': 1 });
    writeLines(logPath, lines);

    const problem = await firstProblem(logPath);

    expect(problem).toMatchObject({ line: 2, kind: 'schema' });
    expect(problem?.message).toContain('\\x1b[2Jx');
    expect(problem?.message.includes('\u001b')).toBe(false);
  });

  it('follows the chain across rotation and gzip', async () => {
    const logPath = join(freshDir(), 'audit.log');
    await writeLog(3, logPath);
    renameSync(logPath, `${logPath}.1`);
    await writeLog(3, logPath);
    writeFileSync(`${logPath}.2.gz`, gzipSync(readFileSync(`${logPath}.1`)));
    rmSync(`${logPath}.1`);
    renameSync(logPath, `${logPath}.1`);
    await writeLog(3, logPath);

    const result = await verifyAuditLog(logPath);

    expect(result.problems).toEqual([]);
    expect(result.ok).toBe(true);
    expect(result.files).toEqual([`${logPath}.2.gz`, `${logPath}.1`, logPath]);
    expect(result.records).toBe(9);
    expect(result.startsMidChain).toBe(false);
  });

  it('accepts a log whose oldest file was removed', async () => {
    const logPath = join(freshDir(), 'audit.log');
    await writeLog(3, logPath);
    renameSync(logPath, `${logPath}.1`);
    await writeLog(3, logPath);
    rmSync(`${logPath}.1`);

    const result = await verifyAuditLog(logPath);

    expect(result.ok).toBe(true);
    expect(result.startsMidChain).toBe(true);
  });

  it('detects a missing middle file', async () => {
    const logPath = join(freshDir(), 'audit.log');
    await writeLog(2, logPath);
    renameSync(logPath, `${logPath}.2`);
    await writeLog(2, logPath);
    renameSync(logPath, `${logPath}.1`);
    await writeLog(2, logPath);
    rmSync(`${logPath}.1`);

    const problem = await firstProblem(logPath);

    expect(problem).toMatchObject({ file: logPath, line: 1, kind: 'broken_link' });
    expect(problem?.message).toContain(`${logPath}.2:2`);
  });

  it('names an unreadable rotated file', async () => {
    const logPath = await writeLog(2);
    writeFileSync(`${logPath}.2.gz`, 'this is not gzip data');

    const error = await verifyAuditLog(logPath).catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(AuditLogError);
    expect((error as AuditLogError).file).toBe(`${logPath}.2.gz`);
    expect((error as AuditLogError).message).toContain(`${logPath}.2.gz`);
  });

  it('names a rotated path that is a directory', async () => {
    const logPath = await writeLog(2);
    mkdirSync(`${logPath}.1`);

    const error = await verifyAuditLog(logPath).catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(AuditLogError);
    expect((error as AuditLogError).message).toMatch(/audit\.log\.1.*EISDIR/);
  });

  it('accepts a present anchor', async () => {
    const logPath = await writeLog(3);
    const anchor = JSON.parse(readLines(logPath)[1]!).hash;
    await writeLog(2, logPath);

    const result = await verifyAuditLog(logPath, { anchors: [anchor] });

    expect(result.ok).toBe(true);
  });

  it('detects a rewritten chain by anchor', async () => {
    const logPath = await writeLog(3);
    const anchor = JSON.parse(readLines(logPath)[2]!).hash;
    // Rewriting every record with fresh hashes passes the chain checks on its own.
    const rewritten = join(freshDir(), 'audit.log');
    await writeLog(3, rewritten);
    writeFileSync(logPath, readFileSync(rewritten));
    writeFileSync(`${logPath}.head`, readFileSync(`${rewritten}.head`));

    const plain = await verifyAuditLog(logPath);
    const anchored = await verifyAuditLog(logPath, { anchors: [anchor] });

    expect(plain.ok).toBe(true);
    expect(anchored.ok).toBe(false);
    expect(anchored.problems[0]).toMatchObject({ file: logPath, line: 0, kind: 'anchor_missing' });
  });

  it('rejects a missing log', async () => {
    const logPath = join(freshDir(), 'audit.log');

    const error = await verifyAuditLog(logPath).catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(AuditLogError);
    expect((error as AuditLogError).message).toContain('not found');
  });
});
