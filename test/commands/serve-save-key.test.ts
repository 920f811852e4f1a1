import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readJsonLines } from '../e2e/harness/gate.js';
import { NEGOTIATE, request, serveOnce } from './fixtures/serve-once.js';

type Target = 'repository' | 'non-empty directory' | 'file' | 'empty directory' | 'missing path';

// An append-only key may store the first key of a repository its session creates. Asking to
// create an existing repository, or anything borg would not create a repository in, must not
// unlock save_key for it.
describe('append-only save_key', () => {
  let dir: string;
  let policyFile: string;
  let auditLog: string;
  const paths = {} as Record<Target, string>;

  beforeAll(() => {
    dir = mkdtempSync('/tmp/borg-gate-save-key-');
    for (const target of [
      'repository',
      'non-empty directory',
      'file',
      'empty directory',
      'missing path',
    ] as const) {
      paths[target] = join(dir, 'repos', target.replaceAll(' ', '-'));
    }
    mkdirSync(join(dir, 'repos'));
    execFileSync('borg', ['init', '-e', 'none', paths.repository], {
      env: { PATH: '/usr/bin:/bin', HOME: dir, BORG_BASE_DIR: join(dir, 'base') },
    });
    mkdirSync(paths['non-empty directory']);
    writeFileSync(join(paths['non-empty directory'], 'notes.txt'), 'not a repository\n');
    writeFileSync(paths.file, 'not a repository\n');
    mkdirSync(paths['empty directory']);
    policyFile = join(dir, 'policy.yaml');
    auditLog = join(dir, 'audit.log');
    writeFileSync(
      policyFile,
      `version: 1\naudit_log: ${auditLog}\nclients:\n  - id: host\n    keys: [ssh-ed25519 AAAAC3Nza]\n    paths: [${dir}/repos]\n`,
      { mode: 0o644 },
    );
  });

  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  async function initWithKey(target: Target) {
    const before = readJsonLines(auditLog).length;
    const input = Buffer.concat([
      NEGOTIATE,
      request(2, 'open', { path: paths[target], create: true, lock: true, exclusive: true }),
      request(3, 'save_key', { keydata: 'forged' }),
    ]);
    await serveOnce({ dir, policyFile, input });
    const records = readJsonLines(auditLog).slice(before);
    const end = records.find((record) => record.event === 'session_end');
    return (end?.rpc as { refused_method?: string | null } | undefined)?.refused_method;
  }

  it.each(['repository', 'non-empty directory', 'file'] as const)('%s: refused', async (target) => {
    expect(await initWithKey(target)).toBe('save_key');
  });

  it.each(['empty directory', 'missing path'] as const)('%s: allowed', async (target) => {
    expect(await initWithKey(target)).toBeNull();
    expect(readFileSync(join(paths[target], 'config'), 'utf8')).toContain('key = forged');
  });
});
