import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveBorgPath } from '../../../src/lib/borg-path/resolve.js';

// Differential test: the same inputs go through borg 1.2's own RepositoryServer._resolve_path.
describe('resolveBorgPath', () => {
  let root: string;
  let home: string;

  beforeAll(() => {
    root = mkdtempSync('/tmp/borg-gate-resolve-');
    home = join(root, 'home');
    mkdirSync(join(root, 'allowed', 'repoA'), { recursive: true });
    mkdirSync(join(home, 'hrepo'), { recursive: true });
    mkdirSync(join(root, 'outside'));
    symlinkSync(join(root, 'outside'), join(root, 'allowed', 'linkout'));
    symlinkSync(join(root, 'allowed', 'repoA'), join(root, 'linkin'));
    symlinkSync('../outside', join(root, 'allowed', 'relative-link'));
    symlinkSync('loop-b', join(root, 'loop-a'));
    symlinkSync('loop-a', join(root, 'loop-b'));
  });

  afterAll(() => {
    rmSync(root, { recursive: true, force: true });
  });

  const cases = (r: () => string): string[] => [
    `${r()}/allowed/repoA`,
    `${r()}/allowed/repoA/`,
    `${r()}/allowed//repoA`,
    `${r()}/allowed/./repoA`,
    `${r()}/allowed/../allowed/repoA`,
    `${r()}/allowed/../outside`,
    `${r()}/allowed/linkout`,
    `${r()}/allowed/linkout/../allowed`,
    `${r()}/allowed/relative-link`,
    `${r()}/linkin`,
    `${r()}/linkin/..`,
    `${r()}/allowed/new-repo`,
    `${r()}/allowed/new/../repoA`,
    'hrepo',
    '/./hrepo',
    '~/hrepo',
    '/~/hrepo',
    '/~/',
    '~',
    '/~',
    '/~//etc',
    '~//etc',
    '/~/../../allowed/repoA',
    '../allowed/repoA',
    '',
    '/',
    '//x//y/',
  ];

  it('matches borg on every case', () => {
    const inputs = cases(() => root);
    const expected = borgResolve(inputs, home);
    for (const [index, input] of inputs.entries()) {
      expect(resolveBorgPath(input, { baseDir: home, cwd: home }), JSON.stringify(input)).toBe(
        expected[index],
      );
    }
  });

  it('refuses ~user paths', () => {
    expect(resolveBorgPath('~root/x', { baseDir: home, cwd: home })).toBeUndefined();
    expect(resolveBorgPath('/~root/x', { baseDir: home, cwd: home })).toBeUndefined();
  });

  it('refuses a symlink loop', () => {
    expect(resolveBorgPath(join(root, 'loop-a'), { baseDir: home, cwd: home })).toBeUndefined();
  });
});

/** Runs borg's own resolver with HOME and cwd set like the gate's borg child. */
function borgResolve(inputs: string[], home: string): string[] {
  const script = [
    'import json, sys',
    'from borg.remote import RepositoryServer',
    'print(json.dumps([RepositoryServer._resolve_path(None, p) for p in json.loads(sys.argv[1])]))',
  ].join('\n');
  const output = execFileSync('/usr/bin/python3', ['-c', script, JSON.stringify(inputs)], {
    cwd: home,
    env: { PATH: '/usr/bin:/bin', HOME: home },
    encoding: 'utf8',
  });
  return JSON.parse(output) as string[];
}
