import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type GateFixture, makeSourceTree, startGate } from './harness/gate.js';
import { hashRepository } from './harness/repo-files.js';

const ENV = { BORG_PASSPHRASE: 'first-passphrase', BORG_NEW_PASSPHRASE: 'second-passphrase' };

// The usual first step of a backup client: `borg init -e repokey` with its append-only key.
describe('append-only client with repokey', () => {
  let gate: GateFixture;
  let repo: string;
  let source: string;

  beforeAll(async () => {
    gate = await startGate();
    repo = join(gate.dir, 'repo');
    source = makeSourceTree(join(gate.dir, 'source'));
    gate.writePolicy({
      clients: [{ id: 'host', keys: [gate.key('host').publicLine], repositories: [repo] }],
    });
  });

  afterAll(async () => {
    await gate?.close();
  });

  it('init stores the key and create works', async () => {
    const init = await gate.borg('host', ['init', '-e', 'repokey', gate.url(repo)], {
      env: { BORG_PASSPHRASE: ENV.BORG_PASSPHRASE },
    });
    expect(init.stderr).not.toContain('borg-gate: ');
    expect(init.code).toBe(0);
    const create = await gate.borg('host', ['create', `${gate.url(repo)}::one`, '.'], {
      cwd: source,
      env: { BORG_PASSPHRASE: ENV.BORG_PASSPHRASE },
    });
    expect(create.code).toBe(0);
  });

  it('change-passphrase is refused later', async () => {
    const before = hashRepository(repo);
    const result = await gate.borg('host', ['key', 'change-passphrase', gate.url(repo)], {
      env: ENV,
    });
    expect(result.stderr).toContain(
      'borg-gate: changing the repository key is not permitted for this key',
    );
    expect(result.code).not.toBe(0);
    expect(hashRepository(repo)).toEqual(before);
  });
});
