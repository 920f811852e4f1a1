// Scenario: a chunk's payload is damaged and its segment CRC rewritten, so only
// `--verify-data` (with the passphrase from a 0600 file, sent over fd 3) finds it.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCheckCommand } from '../../src/commands/check.js';
import { readCheckState } from '../../src/lib/check/state.js';
import {
  captureStderr,
  corruptChunkKeepingCrc,
  createRepository,
  makeTempDir,
  readAlerts,
  removeTempDir,
  writeAlertRecorder,
  writeCheckPolicy,
  writePassphraseFile,
} from '../lib/check/borg-fixtures.js';

let dir: string;
let repository: string;
let policy: string;
let alertLog: string;

beforeAll(async () => {
  dir = await makeTempDir('e2e-check-verify');
  repository = await createRepository(dir, 'repo');
  await corruptChunkKeepingCrc(repository);
  const passphraseFile = await writePassphraseFile(dir, 0o600);
  const recorder = await writeAlertRecorder(dir);
  alertLog = recorder.log;
  policy = await writeCheckPolicy(dir, {
    defaults: { alert_command: [recorder.script], lock_wait: 1 },
    repositories: { [repository]: { passphrase_file: passphraseFile } },
  });
});

afterAll(async () => {
  await removeTempDir(dir);
});

describe('check with a damaged chunk', () => {
  it('due run fails verify-data only', async () => {
    const stderr = captureStderr();
    const code = await runCheckCommand(
      { policy, due: true },
      { now: () => new Date(), stderr: stderr.stream },
    );
    expect(code).toBe(1);
    const record = (await readCheckState(join(dir, 'state', 'check-state.json'))).repositories[
      repository
    ];
    expect(record?.repository_only?.outcome).toBe('ok');
    expect(record?.verify_data?.outcome).toBe('failed');
    expect(record?.verify_data?.message).toMatch(/integrity error/);
  });

  it('alert names the verify-data check', async () => {
    const alerts = await readAlerts(alertLog);
    expect(alerts).toHaveLength(1);
    expect(alerts[0]!.env.BORG_GATE_ALERT_CHECK).toBe('verify_data');
    expect(alerts[0]!.env.BORG_GATE_ALERT_KIND).toBe('failure');
  });

  it('repository-only run still passes', async () => {
    const stderr = captureStderr();
    const code = await runCheckCommand(
      { policy, repository },
      { now: () => new Date(), stderr: stderr.stream },
    );
    expect(stderr.text()).toBe('');
    expect(code).toBe(0);
  });
});
