// Scenario: a client repository passes, and a second one fails `--repository-only`
// because of a flipped segment byte. The alert command receives the failure, the audit
// log and the state file record both results, and the repaired repository recovers.
import { cp, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCheckCommand } from '../../src/commands/check.js';
import { auditRecordSchema } from '../../src/lib/audit-log/record.js';
import { readCheckState } from '../../src/lib/check/state.js';
import {
  captureStderr,
  copyRepository,
  corruptSegmentByte,
  createRepository,
  makeTempDir,
  readAlerts,
  readCheckAuditRecords,
  removeTempDir,
  writeAlertRecorder,
  writeCheckPolicy,
} from '../lib/check/borg-fixtures.js';

let dir: string;
let healthy: string;
let broken: string;
let template: string;
let policy: string;
let alertLog: string;
const stateFile = () => join(dir, 'state', 'check-state.json');

beforeAll(async () => {
  dir = await makeTempDir('e2e-check-segment');
  template = await createRepository(dir, 'template');
  healthy = await copyRepository(template, join(dir, 'healthy'));
  broken = await copyRepository(template, join(dir, 'broken'));
  await corruptSegmentByte(broken);
  const recorder = await writeAlertRecorder(dir);
  alertLog = recorder.log;
  policy = await writeCheckPolicy(
    dir,
    { defaults: { alert_command: [recorder.script], lock_wait: 1 } },
    [healthy, broken],
  );
});

afterAll(async () => {
  await removeTempDir(dir);
});

describe('check with a corrupted segment', () => {
  it('fails the broken repository only', async () => {
    const stderr = captureStderr();
    const code = await runCheckCommand(
      { policy },
      { now: () => new Date(), stderr: stderr.stream },
    );
    expect(code).toBe(1);
    expect(stderr.text()).toContain(`${broken} repository_only: failed`);
    expect(stderr.text()).not.toContain(`${healthy} repository_only`);

    const state = await readCheckState(stateFile());
    expect(state.repositories[healthy]?.repository_only?.outcome).toBe('ok');
    expect(state.repositories[broken]?.repository_only?.outcome).toBe('failed');
    expect(state.repositories[broken]?.repository_only?.message).toMatch(/checksum mismatch/);
    expect(state.repositories[broken]?.verify_data).toBeUndefined();
  });

  it('alert command receives the failure', async () => {
    const alerts = await readAlerts(alertLog);
    expect(alerts).toHaveLength(1);
    expect(alerts[0]!.env.BORG_GATE_ALERT_KIND).toBe('failure');
    expect(alerts[0]!.env.BORG_GATE_ALERT_REPOSITORY).toBe(broken);
    expect(alerts[0]!.env.BORG_GATE_ALERT_OUTCOME).toBe('failed');
    expect(alerts[0]!.stdin.message).toMatch(/checksum mismatch/);
    expect(alerts[0]!.stdin.check).toBe('repository_only');
  });

  it('audit log has one record per check', async () => {
    const records = await readCheckAuditRecords(dir);
    expect(records.map((record) => record.repository).sort()).toEqual([broken, healthy].sort());
    const failed = records.find((record) => record.repository === broken)!;
    expect(failed.command).toBe('borg check --repository-only');
    expect(String(failed.reason)).toMatch(/^failed: /);
    expect(failed.exit_code).toBe(1);
    for (const record of records) {
      expect(auditRecordSchema.safeParse(record).success).toBe(true);
    }
  });

  it('state file is mode 0600', async () => {
    expect((await stat(stateFile())).mode & 0o777).toBe(0o600);
  });

  it('repaired repository sends recovery', async () => {
    await rm(broken, { recursive: true });
    await cp(template, broken, { recursive: true });
    const stderr = captureStderr();
    const code = await runCheckCommand(
      { policy, repository: broken },
      { now: () => new Date(), stderr: stderr.stream },
    );
    expect(stderr.text()).toBe('');
    expect(code).toBe(0);
    const alerts = await readAlerts(alertLog);
    expect(alerts).toHaveLength(2);
    expect(alerts[1]!.env.BORG_GATE_ALERT_KIND).toBe('recovery');
    expect(alerts[1]!.env.BORG_GATE_ALERT_OUTCOME).toBe('ok');
    const state = await readCheckState(stateFile());
    expect(state.repositories[broken]?.repository_only?.failing).toBeUndefined();
  });
});
