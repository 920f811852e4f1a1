import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type GateFixture, makeSourceTree, startGate } from './harness/gate.js';
import { hashRepository } from './harness/repo-files.js';

const LOCK_MESSAGE =
  'borg-gate: this key must lock the repository: borg break-lock and --bypass-lock are not permitted';

// borg's --bypass-lock opens the repository with lock=False. A writer without the lock shares
// segment files with a backup that holds it, but a reader without the lock writes nothing.
describe('borg --bypass-lock through the gate', () => {
  let gate: GateFixture;
  let repo: string;
  let source: string;

  beforeAll(async () => {
    gate = await startGate();
    repo = join(gate.dir, 'repo');
    source = makeSourceTree(join(gate.dir, 'source'));
    gate.writePolicy({
      clients: [
        { id: 'writer', keys: [gate.key('writer').publicLine], repositories: [repo] },
        {
          id: 'reader',
          keys: [gate.key('reader').publicLine],
          repositories: [repo],
          mode: 'read-only',
        },
      ],
    });
    const init = await gate.borg('writer', ['init', '-e', 'none', gate.url(repo)]);
    expect(init.code).toBe(0);
    const create = await gate.borg('writer', ['create', `${gate.url(repo)}::one`, '.'], {
      cwd: source,
    });
    expect(create.code).toBe(0);
  });

  afterAll(async () => {
    await gate?.close();
  });

  // The borg 1.2 client permits --bypass-lock only for commands that read, such as list, so a
  // modified client is the one that writes unlocked (see test/commands/serve-open-lock.test.ts).
  it('append-only list is refused', async () => {
    const before = hashRepository(repo);
    const records = gate.auditRecords().length;
    const result = await gate.borg('writer', ['--bypass-lock', 'list', '--short', gate.url(repo)]);
    expect(result.stderr.trim()).toBe(LOCK_MESSAGE);
    expect(result.stdout).toBe('');
    expect(result.code).toBe(2);
    expect(hashRepository(repo)).toEqual(before);
    const refused = gate.auditRecords().slice(records);
    expect(refused.map((record) => record.event)).toEqual(['session_refused']);
    expect(String(refused[0]?.reason)).toMatch(/^lock-required: open with lock=false for /);
  });

  it('append-only break-lock is refused with the same message', async () => {
    const before = hashRepository(repo);
    const result = await gate.borg('writer', ['break-lock', gate.url(repo)]);
    expect(result.stderr.trim()).toBe(LOCK_MESSAGE);
    expect(result.code).toBe(2);
    expect(hashRepository(repo)).toEqual(before);
  });

  it('read-only list is allowed', async () => {
    // The writer's cache directory already records this repository, so borg prints no warning.
    const env = { BORG_BASE_DIR: join(gate.dir, 'client', 'writer') };
    const args = ['--bypass-lock', 'list', '--short', gate.url(repo)];
    const result = await gate.borg('reader', args, { env });
    expect(result.stderr).toBe('');
    expect(result.stdout).toBe('one\n');
    expect(result.code).toBe(0);
    const end = gate.auditRecords().at(-1);
    expect(end?.event).toBe('session_end');
    expect(end?.decision).toBe('allow');
  });
});
