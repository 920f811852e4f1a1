import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GateHarness, url } from './fixtures/gate-session.js';
import { makeRepository, snapshot } from './fixtures/repo.js';

const READ_ONLY = 'borg-gate: this repository is read-only for this key';

describe.each(['relay', 'direct'] as const)(
  'relaySession read-only with real borg, %s replies',
  (replies) => {
    let base: string;
    let repo: string;
    let gate: GateHarness;

    beforeAll(async () => {
      base = await mkdtemp(join(tmpdir(), 'borg-gate-ro-'));
      repo = await makeRepository(base);
      gate = await GateHarness.create(replies);
      // The first ssh:// access prints a one-time "previously located at" warning.
      await gate.run(base, 'read-only', ['list', url(repo)]);
    }, 120_000);
    afterAll(async () => {
      await gate.dispose();
      await rm(base, { recursive: true, force: true });
    });

    it.each([
      ['list repo', () => ['list', url(repo)]],
      ['list archive', () => ['list', url(repo, 'a1')]],
      ['info', () => ['info', url(repo, 'a1')]],
      ['check', () => ['check', url(repo)]],
      ['check verify-data', () => ['check', '--verify-data', url(repo)]],
      ['key export', () => ['key', 'export', url(repo), join(base, 'exported.key')]],
    ])('allows %s', async (_name, args) => {
      const result = await gate.run(base, 'read-only', args());
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
      expect(result.stats?.refusals).toBe(0);
      expect(result.stats?.protocolError).toBeUndefined();
    });

    it('allows extract', async () => {
      const target = await mkdtemp(join(base, 'extract-'));
      const result = await gate.run(target, 'read-only', ['extract', url(repo, 'a1')]);
      expect(result.code).toBe(0);
      expect((await readdir(join(target, 'data'))).sort()).toEqual(['hello.txt', 'random.bin']);
      expect(result.stats?.gets).toBeGreaterThan(0);
    });

    it.each([
      ['create', () => ['create', url(repo, 'a3'), 'data'], READ_ONLY],
      ['delete', () => ['delete', url(repo, 'a1')], READ_ONLY],
      ['prune', () => ['prune', '--keep-last', '1', url(repo)], READ_ONLY],
      ['compact', () => ['compact', url(repo)], READ_ONLY],
      ['rename', () => ['rename', url(repo, 'a1'), 'b1'], READ_ONLY],
      ['break-lock', () => ['break-lock', url(repo)], READ_ONLY],
      ['change-passphrase', () => ['key', 'change-passphrase', url(repo)], READ_ONLY],
      ['check repair', () => ['check', '--repair', url(repo)], READ_ONLY],
    ])('refuses %s', async (_name, args, message) => {
      const before = await snapshot(repo);
      const result = await gate.run(base, 'read-only', args(), { BORG_NEW_PASSPHRASE: 'new' });
      expect(result.stderr).toContain(message);
      expect(result.code).toBe(2);
      expect(result.stats?.refusedMethod).toBeDefined();
      expect(result.stats?.protocolError).toBeUndefined();
      expect(result.stats?.commit).toBe(false);
      expect(await snapshot(repo)).toEqual(before);
    });

    it('refuses check without allowCheck', async () => {
      const result = await gate.run(base, 'read-only', ['check', url(repo)], {
        GATE_ALLOW_CHECK: '0',
      });
      expect(result.stderr).toContain('borg-gate: borg check is not permitted for this key');
      expect(result.code).toBe(2);
      expect(result.stats?.refusedMethod).toBe('check');
    });
  },
);
