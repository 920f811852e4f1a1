import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type GateFixture, makeSourceTree, startGate } from './harness/gate.js';

// borg serve stops a backup over its storage quota with an error reply, and the client then
// closes the connection. The audit log must name borg's error, not blame the client.
describe('backup over the storage quota', () => {
  let gate: GateFixture;
  let repo: string;
  let source: string;

  beforeAll(async () => {
    gate = await startGate();
    repo = join(gate.dir, 'repo');
    // Random data does not compress or deduplicate, so 12 MiB exceed borg's minimum quota of 10M.
    source = makeSourceTree(join(gate.dir, 'source'), { 'big.bin': randomBytes(12 * 1024 * 1024) });
    gate.writePolicy({
      clients: [
        {
          id: 'host',
          keys: [gate.key('host').publicLine],
          repositories: [{ path: repo, storage_quota: '10M' }],
        },
      ],
    });
    const init = await gate.borg('host', ['init', '-e', 'none', gate.url(repo)]);
    expect(init.code).toBe(0);
  });

  afterAll(async () => {
    await gate?.close();
  });

  it('session_end names the quota error', async () => {
    const create = await gate.borg('host', ['create', `${gate.url(repo)}::one`, '.'], {
      cwd: source,
    });
    expect(create.stderr).toContain('The storage quota (10.00 MB) has been exceeded');
    expect(create.code).toBe(2);
    const end = gate.auditRecords().at(-1);
    expect(end?.event).toBe('session_end');
    // With a quota the gate reads borg's replies, to name the error; so it counts them too.
    expect(end?.bytes_out).toBeGreaterThan(0);
    expect(end?.reason).toBe(
      'borg-error: borg serve replied with StorageQuotaExceeded, then the client closed the connection, before the data it stored was committed',
    );
  });
});
