import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { encode } from '@msgpack/msgpack';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runServe } from '../../src/commands/serve.js';
import { readJsonLines } from '../e2e/harness/gate.js';

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
    const stdin = new PassThrough();
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    stdout.resume();
    stderr.resume();
    stdin.end(
      Buffer.concat([
        encode([1, 1, 'negotiate', [{ client_version: [1, 2, 4, -1] }]]),
        encode({ i: 2, m: 'open', a: { path: repo, create: true, lock: true, exclusive: true } }),
        encode({ i: 3, m: 'save_key', a: { keydata: 'forged' } }),
      ]),
    );
    const env = {
      HOME: dir,
      SSH_ORIGINAL_COMMAND: 'borg serve',
      SSH_CONNECTION: '127.0.0.1 4000 127.0.0.1 22',
    };
    await runServe(
      { clientId: 'host', policyFile, fallbackAuditLog: join(dir, 'fallback.log') },
      { stdin, stdout, stderr, env },
    );
    const end = readJsonLines(auditLog).find((record) => record.event === 'session_end');
    expect((end?.rpc as { refused_method?: string } | undefined)?.refused_method).toBe('save_key');
  });
});
