import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type GateFixture, makeSourceTree, startGate } from './harness/gate.js';
import { segmentHashes } from './harness/repo-files.js';

// BorgBackup's append-only guidance: a compromised client may hide archives, but the segment
// files stay, so an admin can roll back to an earlier transaction.
describe('append-only client', () => {
  let gate: GateFixture;
  let repo: string;
  let source: string;

  beforeAll(async () => {
    gate = await startGate();
    repo = join(gate.dir, 'repo');
    source = makeSourceTree(join(gate.dir, 'source'));
    mkdirSync(join(gate.dir, 'work'));
    gate.writePolicy({
      clients: [{ id: 'host', keys: [gate.key('host').publicLine], repositories: [repo] }],
    });
    expect((await gate.borg('host', ['init', '-e', 'none', gate.url(repo)])).code).toBe(0);
    for (const name of ['one', 'two']) {
      const create = await gate.borg('host', ['create', `${gate.url(repo)}::${name}`, '.'], {
        cwd: source,
      });
      expect(create.code).toBe(0);
    }
  });

  afterAll(async () => {
    await gate?.close();
  });

  it('delete and prune leave every segment file', async () => {
    const before = segmentHashes(repo);
    expect(Object.keys(before).length).toBeGreaterThan(0);
    await gate.borg('host', ['delete', `${gate.url(repo)}::one`]);
    await gate.borg('host', ['prune', '--keep-last', '1', gate.url(repo)]);
    await gate.borg('host', ['compact', gate.url(repo)]);
    const after = segmentHashes(repo);
    for (const [path, hash] of Object.entries(before)) {
      expect(after[path], path).toBe(hash);
    }
  });

  it('serve runs borg with --append-only', () => {
    const starts = gate.auditRecords().filter((record) => record.event === 'session_start');
    expect(starts.length).toBeGreaterThan(0);
    expect(starts.every((record) => record.mode === 'append-only')).toBe(true);
  });
});
