import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readJsonLines } from '../e2e/harness/gate.js';
import { NEGOTIATE, request, serveOnce } from './fixtures/serve-once.js';

// An append-only key may store the first key of a repository its session creates. Asking to
// create an existing repository must not unlock save_key for it.
describe('append-only save_key on an existing repository', () => {
  let dir: string;
  let repo: string;
  let policyFile: string;
  let auditLog: string;

  beforeAll(() => {
    dir = mkdtempSync('/tmp/borg-gate-save-key-');
    repo = join(dir, 'repo');
    execFileSync('borg', ['init', '-e', 'none', repo], {
      env: { PATH: '/usr/bin:/bin', HOME: dir, BORG_BASE_DIR: join(dir, 'base') },
    });
    policyFile = join(dir, 'policy.yaml');
    auditLog = join(dir, 'audit.log');
    writeFileSync(
      policyFile,
      `version: 1\naudit_log: ${auditLog}\nclients:\n  - id: host\n    keys: [ssh-ed25519 AAAAC3Nza]\n    repositories: [${repo}]\n`,
      { mode: 0o644 },
    );
  });

  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('is refused', async () => {
    const input = Buffer.concat([
      NEGOTIATE,
      request(2, 'open', { path: repo, create: true, lock: true, exclusive: true }),
      request(3, 'save_key', { keydata: 'forged' }),
    ]);
    await serveOnce({ dir, policyFile, input });
    const end = readJsonLines(auditLog).find((record) => record.event === 'session_end');
    expect((end?.rpc as { refused_method?: string } | undefined)?.refused_method).toBe('save_key');
  });
});
