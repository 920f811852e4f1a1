import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readJsonLines, run, sshOptions } from './harness/gate.js';
import { GATE, makeKey, makeTestDir, runGate } from './harness/keys-fixture.js';
import { type Sshd, startSshd } from './harness/sshd.js';

// An entry from `keys write` names the policy's own audit_log, so a session refused because the
// policy cannot be loaded is recorded in the log the auditors read, not in a default path.
describe('keys write with a policy audit_log', () => {
  let dir: string;
  let sshd: Sshd;
  let policyFile: string;
  let auditLog: string;
  let repository: string;
  let key: { privateKey: string; publicLine: string };
  let policyText: string;

  beforeAll(async () => {
    dir = makeTestDir('borg-gate-keys-audit-');
    sshd = await startSshd();
    policyFile = join(dir, 'policy.yaml');
    auditLog = join(dir, 'logs', 'audit.log');
    repository = join(dir, 'repo');
    mkdirSync(join(dir, 'logs'));
    key = makeKey(dir, 'web');
    policyText = [
      'version: 1',
      `audit_log: ${auditLog}`,
      'clients:',
      '  - id: web1',
      `    keys: ["${key.publicLine}"]`,
      `    repositories: [${repository}]`,
      '    mode: read-write',
      '',
    ].join('\n');
    writeFileSync(policyFile, policyText, { mode: 0o644 });
    const written = await runGate([
      'keys',
      'write',
      '--policy',
      policyFile,
      '--file',
      sshd.authorizedKeysFile,
      '--gate-path',
      GATE,
    ]);
    expect(written.stderr).not.toContain('error');
    expect(written.code).toBe(0);
  });

  afterAll(async () => {
    await sshd?.stop();
    rmSync(sshd.dir, { recursive: true, force: true });
    rmSync(dir, { recursive: true, force: true });
  });

  function borg(args: string[]) {
    return run('borg', args, {
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        HOME: dir,
        BORG_BASE_DIR: join(dir, 'client'),
        BORG_RSH: ['ssh', ...sshOptions(key.privateKey)].join(' '),
        BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK: 'yes',
      },
    });
  }

  const url = () => `ssh://${sshd.user}@127.0.0.1:${sshd.port}${repository}`;

  it('entry carries --audit-log', () => {
    const text = readFileSync(sshd.authorizedKeysFile, 'utf8');
    expect(text).toContain(`serve --client web1 --policy ${policyFile} --audit-log ${auditLog}"`);
  });

  it('served session logged there', async () => {
    const result = await borg(['init', '-e', 'none', url()]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(readJsonLines(auditLog).some((record) => record.event === 'session_start')).toBe(true);
  });

  it('broken policy refusal logged there', async () => {
    const before = readJsonLines(auditLog).length;
    writeFileSync(policyFile, `${policyText}  - id: [broken\n`, { mode: 0o644 });
    try {
      const result = await borg(['list', url()]);
      expect(result.code).toBe(2);
      const added = readJsonLines(auditLog).slice(before);
      expect(added).toHaveLength(1);
      expect(added[0]?.decision).toBe('refuse');
      expect(String(added[0]?.reason)).toMatch(/^policy-unavailable/);
    } finally {
      writeFileSync(policyFile, policyText, { mode: 0o644 });
    }
  });
});
