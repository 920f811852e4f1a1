import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type GateFixture, makeSourceTree, startGate } from './harness/gate.js';
import { borgServeProcesses } from './harness/processes.js';
import { hashRepository } from './harness/repo-files.js';

const NO_CHECK =
  'borg-gate: this repository is read-only for this key, and borg check is not permitted for it';

// A restore key with allow_check: false. It has one repository, so its borg serve starts before
// the handshake and must go when the exclusive open is refused.
describe('read-only client without allow_check', () => {
  let gate: GateFixture;
  let repo: string;

  beforeAll(async () => {
    gate = await startGate();
    repo = join(gate.dir, 'repo');
    const source = makeSourceTree(join(gate.dir, 'source'), { 'a.txt': 'alpha\n' });
    gate.writePolicy({
      clients: [
        { id: 'writer', keys: [gate.key('writer').publicLine], repositories: [repo] },
        {
          id: 'restore',
          keys: [gate.key('restore').publicLine],
          repositories: [repo],
          mode: 'read-only',
          allow_check: false,
        },
      ],
    });
    expect((await gate.borg('writer', ['init', '-e', 'none', gate.url(repo)])).code).toBe(0);
    const create = await gate.borg('writer', ['create', `${gate.url(repo)}::one`, '.'], {
      cwd: source,
    });
    expect(create.code).toBe(0);
  }, 120_000);

  afterAll(async () => {
    await gate?.close();
  });

  it('lists the repository', async () => {
    const list = await gate.borg('restore', ['list', '--short', gate.url(repo)]);
    expect(list.code).toBe(0);
    expect(list.stdout.trim()).toBe('one');
  });

  it.each([
    ['check', ['check']],
    ['prune', ['prune', '--keep-last', '1']],
  ])('%s is refused with the check message', async (_name, args) => {
    const before = hashRepository(repo);
    const result = await gate.borg('restore', [...args, gate.url(repo)]);
    expect(result.stderr).toContain(NO_CHECK);
    expect(result.code).toBe(2);
    expect(hashRepository(repo)).toEqual(before);
    expect(borgServeProcesses(repo)).toEqual([]);
    const refused = gate.auditRecords().at(-1);
    expect(refused?.event).toBe('session_refused');
    expect(String(refused?.reason)).toMatch(/^read-only-no-check: exclusive open/);
  });
});
