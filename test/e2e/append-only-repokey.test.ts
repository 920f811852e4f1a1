import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type GateFixture, makeSourceTree, startGate } from './harness/gate.js';
import { hashRepository } from './harness/repo-files.js';

const ENV = { BORG_PASSPHRASE: 'first-passphrase', BORG_NEW_PASSPHRASE: 'second-passphrase' };

// The usual first step of a backup client: `borg init -e repokey` with its append-only key.
describe('append-only client with repokey', () => {
  let gate: GateFixture;
  let repo: string;
  let emptyDir: string;
  let usedDir: string;
  let source: string;

  beforeAll(async () => {
    gate = await startGate();
    repo = join(gate.dir, 'repo');
    // Admins often create the repository directory first, to set its owner and mode.
    emptyDir = join(gate.dir, 'pre-created');
    mkdirSync(emptyDir, { mode: 0o700 });
    usedDir = join(gate.dir, 'used');
    mkdirSync(usedDir);
    writeFileSync(join(usedDir, 'notes.txt'), 'not a repository\n');
    source = makeSourceTree(join(gate.dir, 'source'));
    gate.writePolicy({
      clients: [
        {
          id: 'host',
          keys: [gate.key('host').publicLine],
          repositories: [repo, emptyDir, usedDir],
        },
      ],
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

  it('init into an empty directory works', async () => {
    const env = { BORG_PASSPHRASE: ENV.BORG_PASSPHRASE };
    const init = await gate.borg('host', ['init', '-e', 'repokey', gate.url(emptyDir)], { env });
    expect(init.stderr).not.toContain('borg-gate: ');
    expect(init.code).toBe(0);
    const end = gate.auditRecords().at(-1);
    expect(end?.event).toBe('session_end');
    expect((end?.rpc as { refused_method?: unknown } | undefined)?.refused_method).toBeNull();
    const create = await gate.borg('host', ['create', `${gate.url(emptyDir)}::one`, '.'], {
      cwd: source,
      env,
    });
    expect(create.stderr).toBe('');
    expect(create.code).toBe(0);
  });

  it('init into a non-empty directory fails', async () => {
    const before = hashRepository(usedDir);
    const init = await gate.borg('host', ['init', '-e', 'repokey', gate.url(usedDir)], {
      env: { BORG_PASSPHRASE: ENV.BORG_PASSPHRASE },
    });
    // borg itself refuses to create a repository there, before the client sends save_key.
    expect(init.stderr).toContain('There is already something at');
    expect(init.code).toBe(2);
    expect(hashRepository(usedDir)).toEqual(before);
  });
});
