// Scenario: the passphrase file is mode 0644, so `--verify-data` is refused with the
// reason before borg starts, the alert fires, and `--repository-only` still runs.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCheckCommand } from '../../src/commands/check.js';
import { readCheckState } from '../../src/lib/check/state.js';
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

let dir: string;
let repository: string;
let bare: string;
let policy: string;
let passphraseFile: string;
let alertLog: string;

beforeAll(async () => {
  dir = await makeTempDir('e2e-check-refused');
  repository = await createRepository(dir, 'repo');
  bare = join(dir, 'no-source');
  passphraseFile = await writePassphraseFile(dir, 0o644);
  const recorder = await writeAlertRecorder(dir);
  alertLog = recorder.log;
  policy = await writeCheckPolicy(dir, {
    defaults: { alert_command: [recorder.script], lock_wait: 1 },
    repositories: { [repository]: { passphrase_file: passphraseFile }, [bare]: {} },
  });
});

afterAll(async () => {
  await removeTempDir(dir);
});

describe('check with an unsafe passphrase file', () => {
  it('verify-data is refused with the reason', async () => {
    const stderr = captureStderr();
    const code = await runCheckCommand(
      { policy, repository, verifyData: true },
      { now: () => new Date(), stderr: stderr.stream },
    );
    expect(code).toBe(1);
    expect(stderr.text()).toContain('refused');
    expect(stderr.text()).toContain(`chmod 0600 ${passphraseFile}`);
    const record = (await readCheckState(join(dir, 'state', 'check-state.json'))).repositories[
      repository
    ]?.verify_data;
    expect(record?.outcome).toBe('refused');
    expect(record?.message).toMatch(/mode 0644/);
    expect(record?.duration_ms).toBe(0);
  });

  it('alert and audit record the refusal', async () => {
    const alerts = await readAlerts(alertLog);
    expect(alerts).toHaveLength(1);
    expect(alerts[0]!.env.BORG_GATE_ALERT_OUTCOME).toBe('refused');
    const [audit] = await readCheckAuditRecords(dir);
    expect(audit?.exit_code).toBeNull();
    expect(String(audit?.reason)).toMatch(/^refused: passphrase file/);
  });

  it('repository without a source is refused by name', async () => {
    const stderr = captureStderr();
    const code = await runCheckCommand(
      { policy, repository: bare, verifyData: true },
      { now: () => new Date(), stderr: stderr.stream },
    );
    expect(code).toBe(1);
    expect(stderr.text()).toMatch(/--verify-data needs the passphrase/);
  });

  it('verify-data for all skips sourceless repository', async () => {
    const stderr = captureStderr();
    await runCheckCommand(
      { policy, verifyData: true },
      { now: () => new Date(), stderr: stderr.stream },
    );
    expect(stderr.text()).not.toContain(bare);
  });

  it('repository-only needs no passphrase', async () => {
    const stderr = captureStderr();
    const code = await runCheckCommand(
      { policy, repository },
      { now: () => new Date(), stderr: stderr.stream },
    );
    expect(stderr.text()).toBe('');
    expect(code).toBe(0);
  });
});
