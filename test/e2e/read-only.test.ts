import { mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type GateFixture, makeSourceTree, startGate } from './harness/gate.js';
import { hashRepository, lockFiles } from './harness/repo-files.js';

const PASSPHRASE = { BORG_PASSPHRASE: 'restore-test-passphrase' };

// A restore key: it reads everything and changes nothing, enforced by the gate's RPC filter
// because borg 1.x serve has no read-only option.
describe('read-only client', () => {
  let gate: GateFixture;
  let repo: string;
  let source: string;
  let work: string;

  beforeAll(async () => {
    gate = await startGate();
    const srv = join(gate.dir, 'srv');
    mkdirSync(srv);
    repo = join(srv, 'repo');
    source = makeSourceTree(join(gate.dir, 'source'), { 'a.txt': 'alpha\n', 'b.txt': 'beta\n' });
    work = join(gate.dir, 'work');
    mkdirSync(work);
    gate.writePolicy({
      clients: [
        {
          id: 'writer',
          keys: [gate.key('writer').publicLine],
          repositories: [repo],
          mode: 'read-write',
        },
        {
          id: 'restore',
          keys: [gate.key('restore').publicLine],
          repositories: [repo],
          paths: [join(srv, 'new')],
          mode: 'read-only',
        },
      ],
    });
    const init = await gate.borg('writer', ['init', '-e', 'repokey', gate.url(repo)], {
      env: PASSPHRASE,
    });
    expect(init.code).toBe(0);
    for (const name of ['one', 'two']) {
      const create = await gate.borg('writer', ['create', `${gate.url(repo)}::${name}`, '.'], {
        cwd: source,
        env: PASSPHRASE,
      });
      expect(create.code).toBe(0);
    }
  }, 180_000);

  afterAll(async () => {
    await gate?.close();
  });

  const url = (suffix = '') => `${gate.url(repo)}${suffix}`;

  it.each([
    ['list', () => ['list', url()]],
    ['info', () => ['info', url('::one')]],
    ['extract', () => ['extract', url('::one')]],
    ['diff', () => ['diff', url('::one'), 'two']],
    ['export-tar', () => ['export-tar', url('::one'), join(work, 'one.tar')]],
    ['check', () => ['check', url()]],
  ])(
    '%s works',
    async (_name, args) => {
      const before = hashRepository(repo);
      const result = await gate.borg('restore', args(), {
        cwd: work,
        env: PASSPHRASE,
        timeoutMs: 120_000,
      });
      expect(result.stderr).not.toContain('borg-gate');
      expect(result.code).toBe(0);
      if (args()[0] !== 'check') {
        expect(hashRepository(repo)).toEqual(before);
      }
      expect(lockFiles(repo)).toEqual([]);
    },
    120_000,
  );

  it.each([
    ['create', () => ['create', url('::three'), '.']],
    ['delete', () => ['delete', url('::one')]],
    ['prune', () => ['prune', '--keep-last', '1', url()]],
    ['compact', () => ['compact', url()]],
    ['rename', () => ['rename', url('::one'), 'renamed']],
    ['key change-passphrase', () => ['key', 'change-passphrase', url()]],
    ['check --repair', () => ['check', '--repair', url()]],
    ['recreate', () => ['recreate', '--exclude', 'a.txt', url('::one')]],
    ['break-lock', () => ['break-lock', url()]],
  ])(
    '%s is refused',
    async (name, args) => {
      const before = hashRepository(repo);
      const recordsBefore = gate.auditRecords().length;
      const env = { ...PASSPHRASE, BORG_NEW_PASSPHRASE: 'changed' };
      const result = await gate.borg('restore', args(), { cwd: source, env, timeoutMs: 120_000 });
      expect(result.stderr).toMatch(
        /borg-gate: (this repository is read-only for this key|[a-z ]+ is not permitted for this key)/,
      );
      expect(result.code).not.toBe(0);
      expect(hashRepository(repo)).toEqual(before);
      expect(lockFiles(repo)).toEqual([]);
      const end = gate
        .auditRecords()
        .slice(recordsBefore)
        .find((record) => record.event === 'session_end');
      expect(end?.decision, name).toBe('refuse');
      const rpc = end?.rpc as { refused_method?: string } | undefined;
      expect(rpc?.refused_method, name).toBeTruthy();
    },
    120_000,
  );

  it('init on a new path is refused', async () => {
    const target = join(gate.dir, 'srv', 'new', 'repo');
    const result = await gate.borg('restore', ['init', '-e', 'none', gate.url(target)]);
    expect(result.stderr).toContain('borg-gate: this repository is read-only for this key');
    expect(result.code).not.toBe(0);
    expect(readdirSync(join(gate.dir, 'srv'))).toEqual(['repo']);
  });
});
