import {
  appendFileSync,
  mkdtempSync,
  renameSync,
  rmSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { followLog } from '../../../src/lib/audit-log/follow.js';

let dir: string;
let abort: AbortController;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'borg-gate-audit-follow-'));
  abort = new AbortController();
});

afterEach(() => {
  abort.abort();
  rmSync(dir, { recursive: true, force: true });
});

async function nextLine(lines: AsyncGenerator<string>): Promise<string | undefined> {
  const result = await lines.next();
  return result.done ? undefined : result.value;
}

describe('followLog', () => {
  it('starts with the last lines', async () => {
    const logPath = join(dir, 'audit.log');
    writeFileSync(logPath, 'one\ntwo\nthree\n');

    const lines = followLog(logPath, { initialLines: 2, pollMs: 10, signal: abort.signal });

    expect(await nextLine(lines)).toBe('two');
    expect(await nextLine(lines)).toBe('three');
  });

  it('returns appended lines whole', async () => {
    const logPath = join(dir, 'audit.log');
    writeFileSync(logPath, '');
    const lines = followLog(logPath, { initialLines: 0, pollMs: 10, signal: abort.signal });

    const pending = nextLine(lines);
    appendFileSync(logPath, 'part');
    setTimeout(() => appendFileSync(logPath, 'ial é\n'), 50);

    expect(await pending).toBe('partial é');
  });

  it('follows rotation to the new file', async () => {
    const logPath = join(dir, 'audit.log');
    writeFileSync(logPath, 'old\n');
    const reopened: string[] = [];
    const lines = followLog(logPath, {
      initialLines: 1,
      pollMs: 10,
      signal: abort.signal,
      onReopen: (reason) => reopened.push(reason),
    });
    expect(await nextLine(lines)).toBe('old');

    appendFileSync(logPath, 'last in old file\n');
    renameSync(logPath, `${logPath}.1`);
    writeFileSync(logPath, 'first in new file\n');

    expect(await nextLine(lines)).toBe('last in old file');
    expect(await nextLine(lines)).toBe('first in new file');
    expect(reopened).toEqual(['rotated']);
  });

  it('rereads a truncated file', async () => {
    const logPath = join(dir, 'audit.log');
    writeFileSync(logPath, 'before truncation\n');
    const lines = followLog(logPath, { initialLines: 0, pollMs: 10, signal: abort.signal });

    const pending = nextLine(lines);
    truncateSync(logPath, 0);
    setTimeout(() => appendFileSync(logPath, 'after\n'), 50);

    expect(await pending).toBe('after');
  });

  it('ends when aborted', async () => {
    const logPath = join(dir, 'audit.log');
    writeFileSync(logPath, '');
    const lines = followLog(logPath, { initialLines: 0, pollMs: 10, signal: abort.signal });

    const pending = nextLine(lines);
    abort.abort();

    expect(await pending).toBeUndefined();
  });
});
