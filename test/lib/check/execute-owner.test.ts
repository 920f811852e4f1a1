import { chown, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { executeCheck } from '../../../src/lib/check/execute.js';
import { createProgressReporter } from '../../../src/lib/check/progress.js';
import type { CheckTarget } from '../../../src/lib/check/targets.js';

// A check run as root would rewrite a borg-owned repository's config as root and lock the
// backup account out, so the runner refuses a repository owned by another user.
describe.runIf(process.geteuid?.() === 0)('executeCheck owner', () => {
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp('/tmp/borg-gate-check-owner-');
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('refuses a repository of another user', async () => {
    const repository = join(dir, 'repo');
    await mkdir(repository);
    await chown(repository, 65534, 65534);
    const target: CheckTarget = {
      repository,
      everyMs: { repository_only: 1, verify_data: 1 },
      timeoutMs: 60_000,
      lockWaitSeconds: 1,
      overdueAfter: { factor: 2 },
      alertCommand: undefined,
      passphrase: { type: 'none' },
    };
    const progress = createProgressReporter({ isTTY: false, write: () => true });
    const result = await executeCheck(
      target,
      'repository_only',
      { borgBinary: '/nonexistent/borg', baseDir: dir },
      progress,
    );
    expect(result.outcome).toBe('refused');
    expect(result.message).toContain('owned by uid 65534');
    expect(result.message).toContain('sudo -u');
  });
});
