// Scenario: `--due` with a fake clock runs each kind only when its interval (7d for
// --repository-only, 30d for --verify-data) has passed, and an overdue check alerts
// once, with a non-zero exit code, without running borg.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCheckCommand } from '../../src/commands/check.js';
import { type CheckState, readCheckState, writeCheckState } from '../../src/lib/check/state.js';
import {
  captureStderr,
  createRepository,
  makeTempDir,
  readAlerts,
  readCheckAuditRecords,
  removeTempDir,
  writeAlertRecorder,
  writeCheckPolicy,
  writePassphraseFile,
} from '../lib/check/borg-fixtures.js';

const DAY = 86_400_000;
const T0 = new Date('2026-03-01T03:00:00Z');
const at = (days: number) => new Date(T0.getTime() + days * DAY);

let dir: string;
let repository: string;
let ghost: string;
let policy: string;
let alertLog: string;
let stateFile: string;

beforeAll(async () => {
  dir = await makeTempDir('e2e-check-due');
  repository = await createRepository(dir, 'repo');
  ghost = join(dir, 'ghost');
  stateFile = join(dir, 'state', 'check-state.json');
  const passphraseFile = await writePassphraseFile(dir, 0o600);
  const recorder = await writeAlertRecorder(dir);
  alertLog = recorder.log;
  policy = await writeCheckPolicy(dir, {
    defaults: { alert_command: [recorder.script], lock_wait: 1 },
    repositories: { [repository]: { passphrase_file: passphraseFile }, [ghost]: {} },
  });
});

afterAll(async () => {
  await removeTempDir(dir);
});

async function runDueAt(days: number, repositoryOption: string = repository) {
  const stderr = captureStderr();
  const code = await runCheckCommand(
    { policy, due: true, repository: repositoryOption },
    { now: () => at(days), stderr: stderr.stream },
  );
  const record = (await readCheckState(stateFile)).repositories[repositoryOption];
  return { code, stderr: stderr.text(), record };
}

describe('check --due with a fake clock', () => {
  it('first run does both kinds', async () => {
    const { code, record } = await runDueAt(0);
    expect(code).toBe(0);
    expect(record?.repository_only?.last_run).toBe(at(0).toISOString());
    expect(record?.verify_data?.last_run).toBe(at(0).toISOString());
    expect(record?.verify_data?.outcome).toBe('ok');
    expect(await readCheckAuditRecords(dir)).toHaveLength(2);
  });

  it('next day runs nothing', async () => {
    const { code, record } = await runDueAt(1);
    expect(code).toBe(0);
    expect(record?.repository_only?.last_run).toBe(at(0).toISOString());
    expect(await readCheckAuditRecords(dir)).toHaveLength(2);
  });

  it('day 8 runs repository-only', async () => {
    const { record } = await runDueAt(8);
    expect(record?.repository_only?.last_run).toBe(at(8).toISOString());
    expect(record?.verify_data?.last_run).toBe(at(0).toISOString());
    expect(await readCheckAuditRecords(dir)).toHaveLength(3);
  });

  it('day 31 runs both', async () => {
    const { record } = await runDueAt(31);
    expect(record?.repository_only?.last_run).toBe(at(31).toISOString());
    expect(record?.verify_data?.last_run).toBe(at(31).toISOString());
    expect(await readCheckAuditRecords(dir)).toHaveLength(5);
    expect(await readAlerts(alertLog)).toHaveLength(0);
  });

  it('overdue check alerts once', async () => {
    const state: CheckState = await readCheckState(stateFile);
    state.repositories[ghost] = {
      repository_only: {
        first_seen: at(0).toISOString(),
        last_run: at(40).toISOString(),
        last_success: at(30).toISOString(),
        outcome: 'failed',
        failing: true,
        message: 'earlier failure',
      },
    };
    await writeCheckState(stateFile, state);

    const first = await runDueAt(41, ghost);
    expect(first.code).toBe(1);
    expect(first.stderr).toContain(`${ghost} repository_only: overdue`);
    expect(first.record?.repository_only?.last_run).toBe(at(40).toISOString());
    const alerts = await readAlerts(alertLog);
    expect(alerts).toHaveLength(1);
    expect(alerts[0]!.env.BORG_GATE_ALERT_KIND).toBe('overdue');
    expect(alerts[0]!.env.BORG_GATE_ALERT_LAST_SUCCESS).toBe(at(30).toISOString());

    const again = await runDueAt(41.5, ghost);
    expect(again.code).toBe(1);
    expect(await readAlerts(alertLog)).toHaveLength(1);
  });
});
