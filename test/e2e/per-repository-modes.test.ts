import { mkdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type GateFixture, makeSourceTree, startGate } from './harness/gate.js';

// One key, two repositories with different modes: the gate reads `open` and applies the mode
// of the repository the client actually opens.
describe('per-repository modes', () => {
  let gate: GateFixture;
  let own: string;
  let shared: string;
  let source: string;

  beforeAll(async () => {
    gate = await startGate();
    const srv = join(gate.dir, 'srv');
    mkdirSync(srv);
    own = join(srv, 'own');
    shared = join(srv, 'shared');
    source = makeSourceTree(join(gate.dir, 'source'));
    symlinkSync(own, join(srv, 'own-link'));
    gate.writePolicy({
      clients: [
        {
          id: 'host',
          keys: [gate.key('host').publicLine],
          repositories: [
            { path: own, name: 'own' },
            { path: shared, name: 'shared', mode: 'read-only' },
          ],
        },
        {
          id: 'admin',
          keys: [gate.key('admin').publicLine],
          repositories: [shared],
          mode: 'read-write',
        },
      ],
    });
    expect((await gate.borg('host', ['init', '-e', 'none', gate.url(own)])).code).toBe(0);
    expect((await gate.borg('admin', ['init', '-e', 'none', gate.url(shared)])).code).toBe(0);
    const seed = await gate.borg('admin', ['create', `${gate.url(shared)}::seed`, '.'], {
      cwd: source,
    });
    expect(seed.code).toBe(0);
  }, 120_000);

  afterAll(async () => {
    await gate?.close();
  });

  it('own repository takes backups', async () => {
    const create = await gate.borg('host', ['create', `${gate.url(own)}::one`, '.'], {
      cwd: source,
    });
    expect(create.code).toBe(0);
    const end = gate
      .auditRecords()
      .filter((record) => record.event === 'session_end')
      .at(-1);
    expect(end?.repository).toBe(own);
    expect(end?.mode).toBe('append-only');
    expect((end?.rpc as { commit: boolean; puts: number } | undefined)?.commit).toBe(true);
    expect((end?.rpc as { puts: number } | undefined)?.puts).toBeGreaterThan(0);
  });

  it('shared repository is read-only', async () => {
    const list = await gate.borg('host', ['list', '--short', gate.url(shared)]);
    expect(list.stdout.trim()).toBe('seed');
    const listEnd = gate
      .auditRecords()
      .filter((record) => record.event === 'session_end')
      .at(-1);
    expect(listEnd?.mode).toBe('read-only');
    expect((listEnd?.rpc as { gets: number } | undefined)?.gets).toBeGreaterThan(0);
    const create = await gate.borg('host', ['create', `${gate.url(shared)}::two`, '.'], {
      cwd: source,
    });
    expect(create.stderr).toContain('borg-gate: this repository is read-only for this key');
    expect(create.code).not.toBe(0);
  });

  it.each([
    ['dot-dot spelling', () => `${join(gate.dir, 'srv', 'shared')}/../own`],
    ['symlink spelling', () => join(gate.dir, 'srv', 'own-link')],
    ['trailing slash', () => `${own}/`],
  ])('%s of own repository works', async (_name, path) => {
    const list = await gate.borg('host', ['list', '--short', gate.url(path())]);
    // The client warns that the location moved (a client-side check); the gate adds nothing.
    expect(list.stderr).not.toContain('borg-gate: ');
    expect(list.code).toBe(0);
    const start = gate
      .auditRecords()
      .filter((record) => record.event === 'session_start')
      .at(-1);
    expect(start?.repository).toBe(own);
  });

  it('third path is refused with the permitted names', async () => {
    const result = await gate.borg('host', ['list', gate.url(join(gate.dir, 'srv', 'third'))]);
    expect(result.stderr).toContain(
      'borg-gate: repository not permitted for this key (permitted: own, shared)',
    );
    expect(result.code).toBe(2);
  });

  it('check session is recorded', async () => {
    const check = await gate.borg('host', ['check', gate.url(own)]);
    expect(check.code).toBe(0);
    const end = gate
      .auditRecords()
      .filter((record) => record.event === 'session_end')
      .at(-1);
    expect(end?.exit_code).toBe(0);
    expect(end?.repository).toBe(own);
    expect(end?.decision).toBe('allow');
  });
});
