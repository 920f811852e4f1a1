import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createFixture,
  type DoctorFixture,
  gateLine,
  HARDENED_SSHD,
  writeAuditRecords,
} from '../lib/doctor/fixtures.js';

const GATE = resolve('dist/borg-gate.js');
const run = promisify(execFile);

async function doctor(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [GATE, 'doctor', ...args]);
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

describe('doctor on a hardened server', () => {
  let fixture: DoctorFixture;
  let args: string[];

  beforeAll(() => {
    fixture = createFixture('e2e-hardened');
    const repo = fixture.init('web1', 'repokey-blake2');
    const pass = join(fixture.dir, 'web1.pass');
    writeFileSync(pass, 'doctor fixture passphrase\n', { mode: 0o600 });
    fixture.writePolicy({
      clients: [{ id: 'web1', keys: [fixture.key('web1')], repositories: [repo] }],
      checks: { repositories: { [repo]: { passphrase_file: pass } } },
    });
    writeFileSync(
      fixture.authorizedKeys,
      `${gateLine('web1', fixture.key('web1'), fixture.policyFile)}\n`,
    );
    const recent = new Date(Date.now() - 3_600_000).toISOString();
    const record = { first_seen: recent, last_run: recent, last_success: recent, outcome: 'ok' };
    writeFileSync(
      join(fixture.stateDir, 'check-state.json'),
      JSON.stringify({
        version: 1,
        repositories: { [repo]: { repository_only: record, verify_data: record } },
      }),
      { mode: 0o600 },
    );
    writeAuditRecords(fixture.auditLog, [
      { time: recent, event: 'session_end', client_id: 'web1', rpc: { commit: true } },
    ]);
    args = [
      '--policy',
      fixture.policyFile,
      '--authorized-keys',
      fixture.authorizedKeys,
      '--sshd-config',
      fixture.sshdConfig,
      '--user',
      fixture.options().user,
      '--systemd-dir',
      fixture.systemdDir,
    ];
  });

  afterAll(() => fixture.remove());

  it('exits 0 with every row ok', async () => {
    const result = await doctor(args);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('8 implemented, 0 partial, 0 missing');
    expect(result.stdout).not.toContain('MISSING');
  });

  it('exits 1 for a warning only', async () => {
    // sshd keeps the first value it reads for a keyword, so this line overrides the later "no".
    fixture.writeSshdConfig(['X11Forwarding yes', ...HARDENED_SSHD]);
    const result = await doctor(args);
    expect(result.code).toBe(1);
    expect(result.stdout).toContain('x11forwarding is yes');
  });

  it('exits 3 for an invalid policy', async () => {
    writeFileSync(fixture.policyFile, 'version: 2\n', { mode: 0o600 });
    const result = await doctor(args);
    expect(result.code).toBe(3);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain('invalid policy');
  });
});
