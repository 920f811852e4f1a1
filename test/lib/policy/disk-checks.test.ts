import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkGrantPathsOnDisk } from '../../../src/lib/policy/disk-checks.js';
import { parsePolicy } from '../../../src/lib/policy/load.js';

const KEY =
  'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJZ3sQ1lk1FGy0vU7uJYkUtlN3kN5sMLb6JqvU8bZ3Xk a@test';

const dir = mkdtempSync('/tmp/borg-gate-disk-');
mkdirSync(join(dir, 'real', 'existing'), { recursive: true });
symlinkSync(join(dir, 'real'), join(dir, 'link'));
symlinkSync(join(dir, 'real', 'later'), join(dir, 'dangling'));

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

function problemsFor(grant: string): string[] {
  const source = `version: 1\nclients:\n  - {id: a, keys: ["${KEY}"], repositories: [${grant}]}\n`;
  return checkGrantPathsOnDisk(parsePolicy('/etc/gate/policy.yaml', source));
}

describe('checkGrantPathsOnDisk', () => {
  it('flags an existing path through a symlink', () => {
    expect(problemsFor(`${dir}/link/existing`)).toEqual([
      expect.stringContaining(`resolves to ${dir}/real/existing through a symlink`),
    ]);
  });

  it('flags a missing path under a symlinked parent', () => {
    expect(problemsFor(`${dir}/link/new/repo`)).toEqual([
      expect.stringContaining(`resolves to ${dir}/real/new/repo through a symlink`),
    ]);
  });

  it('flags a path through a dangling symlink', () => {
    expect(problemsFor(`${dir}/dangling/repo`)).toEqual([
      expect.stringContaining(`resolves to ${dir}/real/later/repo through a symlink`),
    ]);
  });

  it.each([
    ['an existing real path', 'real/existing'],
    ['a missing path under a real parent', 'real/new/repo'],
  ])('passes %s', (_name, grant) => {
    expect(problemsFor(`${dir}/${grant}`)).toEqual([]);
  });
});
