import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readJsonLines } from '../e2e/harness/gate.js';
import { NEGOTIATE, request, serveOnce } from './fixtures/serve-once.js';

const MODES = ['append-only', 'read-only', 'read-write'] as const;
type Mode = (typeof MODES)[number];

const LOCK_MESSAGE =
  'borg-gate: this key must lock the repository: borg break-lock and --bypass-lock are not permitted';

// `borg --bypass-lock` and modified clients send open(lock=False). An append-only key must not
// write beside a backup that holds the lock.
describe('serve open without the repository lock', () => {
  let dir: string;
  let policyFile: string;
  let auditLog: string;
  const repos = {} as Record<Mode, string>;

  beforeAll(() => {
    dir = mkdtempSync('/tmp/borg-gate-open-lock-');
    policyFile = join(dir, 'policy.yaml');
    auditLog = join(dir, 'audit.log');
    for (const mode of MODES) {
      repos[mode] = join(dir, mode);
      execFileSync('borg', ['init', '-e', 'none', repos[mode]], {
        env: { PATH: '/usr/bin:/bin', HOME: dir, BORG_BASE_DIR: join(dir, 'base') },
      });
    }
    const entries = MODES.map((mode) => `      - {path: ${repos[mode]}, mode: ${mode}}`);
    writeFileSync(
      policyFile,
      [
        'version: 1',
        `audit_log: ${auditLog}`,
        'clients:',
        '  - id: host',
        '    keys: [ssh-ed25519 AAAAC3Nza]',
        '    repositories:',
        ...entries,
        '',
      ].join('\n'),
      { mode: 0o644 },
    );
  });

  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  async function openWith(mode: Mode, lock: unknown, exclusive = false) {
    const before = readJsonLines(auditLog).length;
    const input = Buffer.concat([
      NEGOTIATE,
      request(2, 'open', { path: repos[mode], create: false, lock_wait: 1, lock, exclusive }),
      request(3, '__len__', {}),
    ]);
    const result = await serveOnce({ dir, policyFile, input });
    return { ...result, records: readJsonLines(auditLog).slice(before) };
  }

  it.each([false, 0, null, ''])('append-only refuses lock=%j', async (lock) => {
    const { code, stdout, records } = await openWith('append-only', lock);
    expect(code).toBe(1);
    expect(stdout.includes(LOCK_MESSAGE)).toBe(true);
    expect(records.map((record) => record.event)).toEqual(['session_refused']);
    expect(records[0]?.decision).toBe('refuse');
    expect(String(records[0]?.reason)).toMatch(/^lock-required: open with lock=false for /);
  });

  it.each([
    ['append-only', true],
    ['read-only', false],
    ['read-write', false],
  ] as const)('%s allows lock=%j', async (mode, lock) => {
    const { code, stdout, records } = await openWith(mode, lock);
    expect(code).toBe(0);
    expect(stdout.includes('borg-gate:')).toBe(false);
    expect(records.map((record) => record.event)).toEqual(['session_start', 'session_end']);
    expect(records[1]?.decision).toBe('allow');
  });

  it('read-only refuses unlocked exclusive open', async () => {
    const { code, stdout, records } = await openWith('read-only', false, true);
    expect(code).toBe(1);
    expect(stdout.includes(LOCK_MESSAGE)).toBe(true);
    expect(String(records[0]?.reason)).toMatch(/^lock-required: exclusive open with lock=false/);
  });
});
