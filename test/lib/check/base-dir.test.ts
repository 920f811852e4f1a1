import { chmod, chown, mkdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BorgBaseDirError, prepareBorgBaseDir } from '../../../src/lib/check/base-dir.js';
import { makeTempDir, removeTempDir } from './borg-fixtures.js';

let dir: string;

beforeAll(async () => {
  dir = await makeTempDir('base-dir');
});

afterAll(async () => {
  await removeTempDir(dir);
});

describe('prepareBorgBaseDir', () => {
  it('creates with mode 0700', async () => {
    const target = join(dir, 'new', 'borg');
    await prepareBorgBaseDir(target);
    expect((await stat(target)).mode & 0o777).toBe(0o700);
  });

  it('group-writable rejected', async () => {
    const target = join(dir, 'open');
    await mkdir(target);
    await chmod(target, 0o770);
    const attempt = prepareBorgBaseDir(target);
    await expect(attempt).rejects.toBeInstanceOf(BorgBaseDirError);
    await expect(attempt).rejects.toThrow(/mode 0770/);
  });

  it('foreign owner rejected', async () => {
    const target = join(dir, 'foreign');
    await mkdir(target, { mode: 0o700 });
    await chown(target, 65534, 65534);
    await expect(prepareBorgBaseDir(target)).rejects.toThrow(/owned by uid 65534/);
  });

  it('file in the way rejected', async () => {
    const target = join(dir, 'file');
    await writeFile(target, '');
    await expect(prepareBorgBaseDir(target)).rejects.toThrow(BorgBaseDirError);
  });
});
