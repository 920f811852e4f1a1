import { execFile } from 'node:child_process';
import { chmodSync, existsSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Report, reportSchema } from '../../src/lib/doctor/report.js';
import { createFixture, type DoctorFixture, gateLine } from '../lib/doctor/fixtures.js';

const GATE = resolve('dist/borg-gate.js');
const run = promisify(execFile);

/** Runs the built CLI and returns exit code and output without throwing on a non-zero exit. */
async function doctor(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [GATE, 'doctor', ...args]);
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

describe('doctor on an insecure server', () => {
  let fixture: DoctorFixture;
  let result: { code: number; stdout: string; stderr: string };
  let report: Report;
  let repos: Record<string, string>;

  beforeAll(async () => {
    if (!existsSync(GATE)) {
      throw new Error(`${GATE} is missing; run npm run build first`);
    }
    fixture = createFixture('e2e-insecure');
    repos = {
      open: fixture.init('open', 'none'),
      sealed: fixture.init('sealed', 'repokey'),
    };
    fixture.writePolicy({
      clients: [
        { id: 'web1', keys: [fixture.key('web1')], repositories: [repos.open], mode: 'read-write' },
        { id: 'web2', keys: [fixture.key('web2')], repositories: [repos.sealed, repos.open] },
      ],
    });
    fixture.writeSshdConfig([
      'PasswordAuthentication yes',
      'PermitUserEnvironment yes',
      'AcceptEnv LANG LC_* NODE_OPTIONS',
    ]);
    writeFileSync(
      fixture.authorizedKeys,
      `${gateLine('web1', fixture.key('web1'), fixture.policyFile)}\n${fixture.key('web2')}\n`,
    );
    chmodSync(fixture.authorizedKeys, 0o666);
    writeFileSync(
      join(fixture.systemdDir, 'backup.service'),
      '[Service]\nEnvironment="BORG_PASSPHRASE=letmein"\n',
    );
    result = await doctor([
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
      '--json',
    ]);
    report = JSON.parse(result.stdout) as Report;
  });

  afterAll(() => fixture.remove());

  const status = (id: string) => report.protections.find((row) => row.id === id)?.status;

  it('exits 2 for missing protections', () => {
    expect(result.stderr).toBe('');
    expect(result.code).toBe(2);
  });

  it('prints JSON that validates', () => {
    expect(reportSchema.safeParse(report).success).toBe(true);
    expect(report.exit_code).toBe(2);
  });

  it('reports each broken protection', () => {
    expect(status('append-only')).toBe('partial');
    expect(status('passphrase')).toBe('missing');
    expect(status('verification')).toBe('missing');
    expect(status('ssh-hardening')).toBe('missing');
    expect(status('separate-keys')).toBe('partial');
  });

  it('names the sshd and file problems', () => {
    const details = report.protections.flatMap((row) => row.findings.map((item) => item.detail));
    const text = details.join('\n');
    expect(text).toContain('passwordauthentication is yes');
    expect(text).toContain('permituserenvironment is yes');
    expect(text).toContain('AcceptEnv accepts NODE_OPTIONS (');
    expect(text).toContain('mode 0666: group or others can write it');
    expect(text).toContain('backup.service');
  });

  it('saves key ages with mode 0600', async () => {
    const { statSync } = await import('node:fs');
    const info = statSync(join(fixture.stateDir, 'doctor-state.json'));
    expect(info.mode & 0o777).toBe(0o600);
  });
});
