import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type GateFixture, startGate } from './harness/gate.js';
import { hashRepository, lockFiles } from './harness/repo-files.js';

// Append-only keys may add archives but not delete them: borg's own --append-only lets delete,
// prune and rename appear to succeed, so the gate refuses them in the protocol as well.
describe('append-only client deletes', () => {
  let gate: GateFixture;
  let repo: string;
  let source: string;

  beforeAll(async () => {
    gate = await startGate();
    repo = join(gate.dir, 'repo');
    source = join(gate.dir, 'source');
    mkdirSync(source);
    for (let index = 0; index < 6; index += 1) {
      writeFileSync(join(source, `blob${index}`), randomBytes(8 * 1024 * 1024));
    }
    gate.writePolicy({
      clients: [{ id: 'host', keys: [gate.key('host').publicLine], repositories: [repo] }],
    });
    expect((await gate.borg('host', ['init', '-e', 'none', gate.url(repo)])).code).toBe(0);
  }, 120_000);

  afterAll(async () => {
    await gate?.close();
  });

  it('create with checkpoints succeeds', async () => {
    // Checkpoint archives are deleted again by the same session, which the gate permits.
    const create = await gate.borg(
      'host',
      [
        'create',
        '--checkpoint-interval',
        '1',
        '--compression',
        'none',
        `${gate.url(repo)}::first`,
        '.',
      ],
      { cwd: source, timeoutMs: 120_000 },
    );
    expect(create.stderr).toBe('');
    expect(create.code).toBe(0);
    const list = await gate.borg('host', ['list', '--short', gate.url(repo)]);
    expect(list.stdout.trim()).toBe('first');
    const end = gate
      .auditRecords()
      .filter((record) => record.event === 'session_end')
      .at(-2);
    const rpc = end?.rpc as { puts: number; commit: boolean; deletes: number };
    expect(rpc.puts).toBeGreaterThan(0);
    expect(rpc.commit).toBe(true);
    const second = await gate.borg('host', ['create', `${gate.url(repo)}::second`, '.'], {
      cwd: source,
    });
    expect(second.code).toBe(0);
  }, 120_000);

  it.each([
    ['delete', () => ['delete', `${gate.url(repo)}::first`]],
    ['prune', () => ['prune', '--keep-last', '1', gate.url(repo)]],
    ['rename', () => ['rename', `${gate.url(repo)}::first`, 'renamed']],
  ])(
    '%s is refused',
    async (name, args) => {
      const before = hashRepository(repo);
      const recordsBefore = gate.auditRecords().length;
      const result = await gate.borg('host', args(), { cwd: source });
      expect(result.stderr, name).toContain(
        'borg-gate: deleting archives is not permitted for this key',
      );
      expect(result.code).not.toBe(0);
      // rename puts the new archive entry before it deletes the old one, so an uncommitted
      // segment may appear; borg discards it at the next transaction. Existing files stay.
      const after = hashRepository(repo);
      for (const [path, hash] of Object.entries(before)) {
        expect(after[path], path).toBe(hash);
      }
      expect(lockFiles(repo)).toEqual([]);
      const end = gate
        .auditRecords()
        .slice(recordsBefore)
        .find((record) => record.event === 'session_end');
      expect((end?.rpc as { refused_method?: string } | undefined)?.refused_method).toBe('delete');
    },
    60_000,
  );

  it('archives survive the attempts', async () => {
    const list = await gate.borg('host', ['list', '--short', gate.url(repo)]);
    expect(list.stdout.trim().split('\n')).toEqual(['first', 'second']);
  });
});
