// Scenario: `borg with-lock` keeps the repository locked, so the check is reported as
// skipped (exit 0, no alert). The next `--due` run retries at once and succeeds.
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCheckCommand } from '../../src/commands/check.js';
import { readCheckState } from '../../src/lib/check/state.js';
import {
  captureStderr,
  createRepository,
  holdLock,
  makeTempDir,
  readAlerts,
  readCheckAuditRecords,
  removeTempDir,
  stopProcess,
  writeAlertRecorder,
  writeCheckPolicy,
} from '../lib/check/borg-fixtures.js';

const T0 = new Date('2026-03-01T03:00:00Z');
const HOUR = 3_600_000;

let dir: string;
let repository: string;
let policy: string;
let alertLog: string;
let holder: ChildProcess | undefined;

beforeAll(async () => {
  dir = await makeTempDir('e2e-check-locked');
  repository = await createRepository(dir, 'repo');
  const recorder = await writeAlertRecorder(dir);
  alertLog = recorder.log;
  policy = await writeCheckPolicy(
    dir,
    { defaults: { alert_command: [recorder.script], lock_wait: 1 } },
    [repository],
  );
});

afterAll(async () => {
  if (holder !== undefined) {
    await stopProcess(holder);
  }
  await removeTempDir(dir);
});

async function state() {
  return (await readCheckState(join(dir, 'state', 'check-state.json'))).repositories[repository]
    ?.repository_only;
}

describe('check of a locked repository', () => {
  it('is skipped, not failed', async () => {
    holder = await holdLock(dir, repository, 120);
    const stderr = captureStderr();
    const code = await runCheckCommand(
      { policy, due: true },
      { now: () => T0, stderr: stderr.stream },
    );
    expect(code).toBe(0);
    expect(stderr.text()).toBe('');
    const record = await state();
    expect(record?.outcome).toBe('skipped');
    expect(record?.retry).toBe(true);
    expect(record?.message).toMatch(/locked by another borg process/);
    expect(record?.last_success).toBeUndefined();
    expect(await readAlerts(alertLog)).toHaveLength(0);
    const [audit] = await readCheckAuditRecords(dir);
    expect(String(audit?.reason)).toMatch(/^skipped: /);
  });

  it('is retried on the next run', async () => {
    await stopProcess(holder!);
    holder = undefined;
    const stderr = captureStderr();
    const later = new Date(T0.getTime() + HOUR);
    const code = await runCheckCommand(
      { policy, due: true },
      { now: () => later, stderr: stderr.stream },
    );
    expect(code).toBe(0);
    const record = await state();
    expect(record?.outcome).toBe('ok');
    expect(record?.retry).toBeUndefined();
    expect(record?.last_success).toBe(later.toISOString());
    expect(record?.first_seen).toBe(T0.toISOString());
  });
});
