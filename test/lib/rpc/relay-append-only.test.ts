import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runBorg } from './fixtures/borg-client.js';
import { GateHarness, url } from './fixtures/gate-session.js';
import { clientEnv, makeRepository } from './fixtures/repo.js';

const NO_DELETE = 'borg-gate: deleting archives is not permitted for this key';

describe.each(['relay', 'direct'] as const)(
  'relaySession append-only with real borg, %s replies',
  (replies) => {
    let base: string;
    let repo: string;
    let gate: GateHarness;

    const archives = async () => {
      const result = await runBorg(['list', '--short', repo], clientEnv(base), base);
      return result.stdout.trim().split('\n').sort();
    };

    beforeAll(async () => {
      base = await mkdtemp(join(tmpdir(), 'borg-gate-ao-'));
      repo = await makeRepository(base);
      gate = await GateHarness.create(replies);
      await gate.run(base, 'append-only', ['list', url(repo)]);
    }, 120_000);
    afterAll(async () => {
      await gate.dispose();
      await rm(base, { recursive: true, force: true });
    });

    it('allows create with checkpoints', async () => {
      const big = join(base, 'big');
      await mkdir(big, { recursive: true });
      // borg 1.2 writes a checkpoint between files once the interval has passed, so several files
      // make checkpoints certain. At 2 MiB/s the 12 MiB upload takes about 6 s.
      for (let index = 0; index < 6; index += 1) {
        await writeFile(join(big, `random${index}.bin`), randomBytes(2 * 1024 * 1024));
      }
      const args = ['create', '--checkpoint-interval', '1', '--upload-ratelimit', '2048'];
      // With room for one tracked put, each checkpoint's delete passes only because the filter
      // remembers the object put right before the manifest: the archive.
      const result = await gate.run(base, 'append-only', [...args, url(repo, 'big1'), 'big'], {
        GATE_MAX_TRACKED_PUTS: '1',
      });
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
      expect(result.stats?.puts).toBeGreaterThan(3);
      expect(result.stats?.deletes).toBeGreaterThan(0);
      expect(result.stats?.commit).toBe(true);
      expect(result.stats?.refusals).toBe(0);
      expect(await archives()).toContain('big1');
    });

    it.each([
      ['delete', () => ['delete', url(repo, 'a1')], NO_DELETE],
      ['prune', () => ['prune', '--keep-last', '1', url(repo)], NO_DELETE],
      ['rename', () => ['rename', url(repo, 'a1'), 'b1'], NO_DELETE],
      [
        'compact',
        () => ['compact', url(repo)],
        'borg-gate: compacting the repository is not permitted for this key',
      ],
      [
        'break-lock',
        () => ['break-lock', url(repo)],
        'borg-gate: breaking repository locks is not permitted for this key',
      ],
      [
        'check repair',
        () => ['check', '--repair', url(repo)],
        'borg-gate: repairing the repository is not permitted for this key',
      ],
    ])('refuses %s', async (_name, args, message) => {
      const before = await archives();
      const result = await gate.run(base, 'append-only', args());
      expect(result.stderr).toContain(message);
      expect(result.code).toBe(2);
      expect(result.stats?.refusedMethod).toBeDefined();
      expect(result.stats?.commit).toBe(false);
      expect(await archives()).toEqual(before);
    });

    it('allows check', async () => {
      const result = await gate.run(base, 'append-only', ['check', url(repo)]);
      expect(result.code).toBe(0);
    });
  },
);
