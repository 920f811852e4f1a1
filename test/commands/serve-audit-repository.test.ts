import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readJsonLines } from '../e2e/harness/gate.js';
import { NEGOTIATE, request, serveOnce } from './fixtures/serve-once.js';

// A `paths` grant covers many repositories, so each session's records must name the one it opened.
describe('serve audit repository for a path grant', () => {
  let dir: string;
  let root: string;
  let policyFile: string;
  let auditLog: string;

  beforeAll(() => {
    dir = mkdtempSync('/tmp/borg-gate-audit-repository-');
    root = join(dir, 'backups');
    mkdirSync(join(root, 'sub', 'deep'), { recursive: true });
    for (const repo of [join(root, 'r1'), join(root, 'sub', 'deep', 'r2')]) {
      execFileSync('borg', ['init', '-e', 'none', repo], {
        env: { PATH: '/usr/bin:/bin', HOME: dir, BORG_BASE_DIR: join(dir, 'base') },
      });
    }
    policyFile = join(dir, 'policy.yaml');
    auditLog = join(dir, 'audit.log');
    writeFileSync(
      policyFile,
      `version: 1\naudit_log: ${auditLog}\nclients:\n  - id: host\n    keys: [ssh-ed25519 AAAAC3Nza]\n    paths: [${root}]\n`,
      { mode: 0o644 },
    );
  });

  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  async function open(path: string, lock = true) {
    const before = readJsonLines(auditLog).length;
    const input = Buffer.concat([
      NEGOTIATE,
      request(2, 'open', { path, create: false, lock_wait: 1, lock, exclusive: false }),
      request(3, '__len__', {}),
    ]);
    await serveOnce({ dir, policyFile, input });
    return readJsonLines(auditLog).slice(before);
  }

  it.each([
    ['r1', 'r1'],
    ['sub/deep/r2', 'sub/deep/r2'],
    ['sub/../sub/deep/r2/', 'sub/deep/r2'],
  ])('open %s records the repository', async (requested, expected) => {
    const records = await open(`${root}/${requested}`);
    expect(records.map((record) => record.event)).toEqual(['session_start', 'session_end']);
    for (const record of records) {
      expect(record.repository).toBe(join(root, expected));
      expect(record.restrictions).toEqual([`--restrict-to-path ${root}`]);
    }
  });

  it('refused open records the repository', async () => {
    const records = await open(`${root}/sub/../r1`, false);
    expect(records.map((record) => record.event)).toEqual(['session_refused']);
    expect(records[0]?.repository).toBe(join(root, 'r1'));
  });
});
