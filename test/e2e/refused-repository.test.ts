import { mkdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type GateFixture, startGate } from './harness/gate.js';
import { borgServeProcesses } from './harness/processes.js';
import { hashRepository } from './harness/repo-files.js';

describe('repository outside the policy', () => {
  let gate: GateFixture;
  let allowed: string;
  let other: string;

  beforeAll(async () => {
    gate = await startGate();
    const repos = join(gate.dir, 'srv');
    mkdirSync(repos);
    allowed = join(repos, 'a');
    other = join(repos, 'b');
    gate.writePolicy({
      clients: [
        {
          id: 'alice',
          keys: [gate.key('alice').publicLine],
          repositories: [{ path: allowed, name: 'alice-main' }],
          mode: 'read-write',
        },
        {
          id: 'bob',
          keys: [gate.key('bob').publicLine],
          repositories: [other],
          mode: 'read-write',
        },
      ],
    });
    expect((await gate.borg('alice', ['init', '-e', 'none', gate.url(allowed)])).code).toBe(0);
    expect((await gate.borg('bob', ['init', '-e', 'none', gate.url(other)])).code).toBe(0);
    symlinkSync(other, join(repos, 'link-to-b'));
  });

  afterAll(async () => {
    await gate?.close();
  });

  it.each([
    ['another client repository', () => other],
    ['path traversal', () => `${allowed}/../b`],
    ['symlink to another repository', () => join(gate.dir, 'srv', 'link-to-b')],
    ['subdirectory of the repository', () => join(allowed, 'data')],
    ['home-relative path', () => '/~/a'],
  ])('%s is refused', async (_name, path) => {
    const before = hashRepository(other);
    const recordsBefore = gate.auditRecords().length;
    const result = await gate.borg('alice', ['list', gate.url(path())]);
    expect(result.stderr).toContain(
      'borg-gate: repository not permitted for this key (permitted: alice-main)',
    );
    expect(result.stderr).not.toContain(other);
    // alice has one grant, so her borg serve started during the handshake; it is gone unheard.
    expect(result.stderr).not.toContain('Got connection close');
    expect(borgServeProcesses(allowed)).toEqual([]);
    expect(result.stdout).toBe('');
    expect(result.code).toBe(2);
    expect(hashRepository(other)).toEqual(before);
    const records = gate.auditRecords().slice(recordsBefore);
    expect(records).toHaveLength(1);
    expect(String(records[0]?.reason)).toMatch(/^repository-not-permitted/);
  });

  it('init of a new path is refused', async () => {
    const result = await gate.borg('alice', [
      'init',
      '-e',
      'none',
      gate.url(join(gate.dir, 'srv', 'new')),
    ]);
    expect(result.stderr).toContain('borg-gate: repository not permitted for this key');
    expect(result.code).toBe(2);
  });

  it('refusal message is shown 20 times in 20', async () => {
    let shown = 0;
    for (let attempt = 0; attempt < 20; attempt += 1) {
      const result = await gate.borg('alice', ['list', gate.url(other)]);
      if (
        result.stderr.includes('borg-gate: repository not permitted for this key') &&
        result.code === 2
      ) {
        shown += 1;
      }
    }
    expect(shown).toBe(20);
  }, 180_000);
});
