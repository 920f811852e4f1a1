import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  installBlock,
  installLockPath,
  parseMode,
} from '../../../src/lib/authorized-keys/install.js';
import type { BlockSource } from '../../../src/lib/authorized-keys/lookup-index.js';
import { formatBlock } from '../../../src/lib/authorized-keys/managed-block.js';
import {
  fileHasContent,
  readCurrentFile,
  stageFile,
} from '../../../src/lib/authorized-keys/safe-write.js';
import { takeFileLock } from '../../../src/lib/file-lock.js';

let dir: string;
let file: string;
const block = formatBlock('default', '/etc/borg-gate/policy.yaml', ['entry one']);
const changed = formatBlock('default', '/etc/borg-gate/policy.yaml', ['entry two']);
const options = { blockName: 'default' };

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'borg-gate-install-'));
  file = join(dir, 'authorized_keys');
});

afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('installBlock', () => {
  it('creates file with mode 0600', async () => {
    const result = await installBlock(file, block, options);
    expect(result.changed).toBe(true);
    expect(result.backupFile).toBeUndefined();
    expect(readFileSync(file, 'utf8')).toBe(block);
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });

  it('second write changes nothing', async () => {
    await installBlock(file, block, options);
    const past = new Date('2020-01-01T00:00:00Z');
    utimesSync(file, past, past);
    const inode = statSync(file).ino;
    const result = await installBlock(file, block, options);
    expect(result.changed).toBe(false);
    expect(statSync(file).mtime.getTime()).toBe(past.getTime());
    expect(statSync(file).ino).toBe(inode);
    expect(readdirSync(dir)).toEqual(['authorized_keys']);
  });

  it('compares pieces with the installed block without a temporary file', async () => {
    writeFileSync(file, `# top\n${block}`, { mode: 0o600 });
    const bytes = Buffer.from(block, 'utf8');
    const pieces = [bytes.subarray(0, 7), bytes.subarray(7, 30), bytes.subarray(30)];
    const result = await installBlock(file, pieces, options);
    expect(result.changed).toBe(false);
    expect(Buffer.concat(result.outside.before).toString()).toBe('# top\n');
    expect(readdirSync(dir)).toEqual(['authorized_keys']);
  });

  it('block that stops early or runs longer is a change', async () => {
    writeFileSync(file, `# top\n${block}# end\n`, { mode: 0o600 });
    const bytes = Buffer.from(block, 'utf8');
    const shorter = await installBlock(file, [bytes.subarray(0, 20)], options);
    expect(shorter.changed).toBe(true);
    expect(readFileSync(file, 'utf8')).toBe(`# top\n${block.slice(0, 20)}# end\n`);
    writeFileSync(file, `# top\n${block}# end\n`, { mode: 0o600 });
    const longer = await installBlock(file, [bytes, Buffer.from('more\n')], options);
    expect(longer.changed).toBe(true);
    expect(readFileSync(file, 'utf8')).toBe(`# top\n${block}more\n# end\n`);
  });

  it('piece that differs late keeps the equal start', async () => {
    writeFileSync(file, `# top\n${block}`, { mode: 0o600 });
    const same = Buffer.from(block, 'utf8').subarray(0, 25);
    const rest = Buffer.from(changed, 'utf8').subarray(25);
    const result = await installBlock(file, [same, rest], options);
    expect(result.changed).toBe(true);
    expect(readFileSync(file, 'utf8')).toBe(`# top\n${Buffer.concat([same, rest])}`);
    expect(readFileSync(`${file}.bak`, 'utf8')).toBe(`# top\n${block}`);
  });

  it('failing piece source leaves the file and no temporary file', async () => {
    writeFileSync(file, `# top\n${block}`, { mode: 0o600 });
    function* failing(): Generator<Buffer> {
      yield Buffer.from(changed, 'utf8').subarray(0, 30);
      throw new Error('bad key in the policy');
    }
    await expect(installBlock(file, failing(), options)).rejects.toThrow(/bad key/);
    expect(readFileSync(file, 'utf8')).toBe(`# top\n${block}`);
    expect(readdirSync(dir)).toEqual(['authorized_keys']);
  });

  it('withNewBlock reads the new block before the file is replaced', async () => {
    writeFileSync(file, `# top\n${block}`, { mode: 0o600 });
    const seen: string[] = [];
    const readBlock = (length: number) => async (source: BlockSource) => {
      const bytes = Buffer.alloc(length);
      source.copy(bytes, 0, 0, length);
      seen.push(bytes.toString());
      // The file is replaced only after this returns.
      seen.push(readFileSync(file, 'utf8'));
    };
    const result = await installBlock(file, changed, {
      ...options,
      withNewBlock: readBlock(Buffer.byteLength(changed)),
    });
    expect(result.changed).toBe(true);
    expect(seen).toEqual([changed, `# top\n${block}`]);
    seen.length = 0;
    // Unchanged: the block is read from the installed bytes, and no file is written.
    const again = await installBlock(file, changed, {
      ...options,
      withNewBlock: readBlock(Buffer.byteLength(changed)),
    });
    expect(again.changed).toBe(false);
    expect(seen).toEqual([changed, `# top\n${changed}`]);
  });

  it('failing withNewBlock leaves the file as it was', async () => {
    writeFileSync(file, `# top\n${block}`, { mode: 0o600 });
    const failing = async () => {
      throw new Error('index directory is full');
    };
    await expect(
      installBlock(file, changed, { ...options, withNewBlock: failing }),
    ).rejects.toThrow(/index directory is full/);
    expect(readFileSync(file, 'utf8')).toBe(`# top\n${block}`);
    // The backup is written first, so it contains the file as it still is.
    expect(readdirSync(dir).sort()).toEqual(['authorized_keys', 'authorized_keys.bak']);
    expect(readFileSync(`${file}.bak`, 'utf8')).toBe(`# top\n${block}`);
  });

  it('two writes of one file take turns', async () => {
    const a = formatBlock('a', '/etc/borg-gate/a.yaml', ['a one']);
    const b = formatBlock('b', '/etc/borg-gate/b.yaml', ['b one']);
    writeFileSync(file, `${a}${b}`, { mode: 0o600 });
    // Many small pieces, each written with its own await, so the two writes interleave
    // unless the lock keeps them apart.
    const lines = Array.from({ length: 3000 }, (_, index) => `a entry ${index}`);
    const newA = formatBlock('a', '/etc/borg-gate/a.yaml', lines);
    const pieces = newA.match(/[^\n]*\n/g)!.map((line) => Buffer.from(line));
    const newB = formatBlock('b', '/etc/borg-gate/b.yaml', ['b two']);
    await Promise.all([
      installBlock(file, pieces, { blockName: 'a' }),
      installBlock(file, newB, { blockName: 'b' }),
    ]);
    expect(readFileSync(file, 'utf8')).toBe(`${newA}${newB}`);
    expect(readdirSync(dir).sort()).toEqual(['authorized_keys', 'authorized_keys.bak']);
  });

  it('edit by another program during the write is kept', async () => {
    writeFileSync(file, `# top\n${block}`, { mode: 0o600 });
    const edited = `# edited by hand\n${block}`;
    function* editing(): Generator<Buffer> {
      yield Buffer.from(changed, 'utf8').subarray(0, 20);
      writeFileSync(file, edited);
      yield Buffer.from(changed, 'utf8').subarray(20);
    }
    await expect(installBlock(file, editing(), options)).rejects.toThrow(
      /changed while borg-gate was writing it, so it was left as it is/,
    );
    expect(readFileSync(file, 'utf8')).toBe(edited);
    expect(readdirSync(dir)).toEqual(['authorized_keys']);
  });

  it('directory reached through a symbolic link is refused', async () => {
    const real = join(dir, 'real-ssh');
    mkdirSync(real);
    writeFileSync(join(real, 'authorized_keys'), 'other account\n', { mode: 0o600 });
    symlinkSync(real, join(dir, 'ssh'));
    await expect(installBlock(join(dir, 'ssh', 'authorized_keys'), block, options)).rejects.toThrow(
      `the directory of ${join(dir, 'ssh', 'authorized_keys')} is reached through a symbolic link (${join(dir, 'ssh')} is ${real})`,
    );
    expect(readFileSync(join(real, 'authorized_keys'), 'utf8')).toBe('other account\n');
    expect(readdirSync(real)).toEqual(['authorized_keys']);
  });

  it('pinned files must be opened where their path says', async () => {
    // A directory swapped for a link between the checks and the open is seen by the open.
    const real = join(dir, 'real-ssh');
    mkdirSync(real);
    writeFileSync(join(real, 'authorized_keys'), 'other account\n', { mode: 0o600 });
    symlinkSync(real, join(dir, 'ssh'));
    const linked = join(dir, 'ssh', 'authorized_keys');
    await expect(stageFile(linked, 0o600, true)).rejects.toThrow(
      `${join(dir, 'ssh')} changed while borg-gate used it`,
    );
    expect(readdirSync(real)).toEqual(['authorized_keys']);
    await expect(readCurrentFile(linked, true)).rejects.toThrow(/nothing was written/);
    // Unpinned, as for files whose directories may be links on purpose, both work.
    expect((await readCurrentFile(linked))?.content.toString()).toBe('other account\n');
  });

  it('a busy lock is reported and then taken in turn', async () => {
    writeFileSync(file, block, { mode: 0o600 });
    const lock = await takeFileLock(file, {
      lockPath: installLockPath(file),
      staleMs: 60_000,
      waitMs: 0,
    });
    const waits: string[] = [];
    const writing = installBlock(file, changed, {
      ...options,
      onLockWait: (lock) => waits.push(lock),
    });
    await new Promise((done) => setTimeout(done, 1500));
    expect(waits).toEqual([installLockPath(file)]);
    await lock.release();
    expect((await writing).changed).toBe(true);
    expect(readFileSync(file, 'utf8')).toBe(changed);
  });

  it('leftovers of a killed write are removed', async () => {
    writeFileSync(file, block, { mode: 0o600 });
    const leftovers = [
      '.authorized_keys.borg-gate-0123456789ab',
      '.authorized_keys.bak.borg-gate-ba9876543210',
    ];
    for (const name of leftovers) {
      writeFileSync(join(dir, name), 'partial');
    }
    writeFileSync(join(dir, '.authorized_keys.borg-gate-notours'), 'kept');
    const result = await installBlock(file, block, options);
    expect(result.removedLeftovers.sort()).toEqual(leftovers.map((name) => join(dir, name)).sort());
    expect(readdirSync(dir).sort()).toEqual([
      '.authorized_keys.borg-gate-notours',
      'authorized_keys',
    ]);
  });

  it('--owner changes the owner of an unchanged file', async () => {
    writeFileSync(file, block, { mode: 0o600 });
    const result = await installBlock(file, block, { ...options, owner: 'nobody' });
    expect(result.changed).toBe(true);
    expect(statSync(file).uid).toBe(65534);
    expect(readFileSync(file, 'utf8')).toBe(block);
  });

  it('keeps foreign lines and backs up', async () => {
    const foreign = '# admin key\nssh-ed25519 AAAA admin\n';
    writeFileSync(file, `${foreign}${block}# after\n`, { mode: 0o600 });
    const result = await installBlock(file, changed, options);
    expect(result.backupFile).toBe(`${file}.bak`);
    expect(readFileSync(file, 'utf8')).toBe(`${foreign}${changed}# after\n`);
    expect(readFileSync(`${file}.bak`, 'utf8')).toBe(`${foreign}${block}# after\n`);
    expect(statSync(`${file}.bak`).mode & 0o777).toBe(0o600);
  });

  it('fixes mode of unchanged content', async () => {
    writeFileSync(file, block);
    chmodSync(file, 0o644);
    const result = await installBlock(file, block, options);
    expect(result.changed).toBe(true);
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });

  it('root-owned readable mode', async () => {
    await installBlock(file, block, { ...options, mode: 0o644, owner: 'root' });
    expect(statSync(file).mode & 0o777).toBe(0o644);
    expect(statSync(file).uid).toBe(0);
    const again = await installBlock(file, block, { ...options, mode: 0o644 });
    expect(again.changed).toBe(false);
  });

  it('keeps owner of existing file', async () => {
    writeFileSync(file, 'x\n', { mode: 0o600 });
    const { chownSync } = await import('node:fs');
    chownSync(file, 65534, 65534);
    await installBlock(file, block, options);
    expect(statSync(file).uid).toBe(65534);
    expect(statSync(file).gid).toBe(65534);
  });

  it('new file takes directory owner', async () => {
    const { chownSync } = await import('node:fs');
    const sshDir = join(dir, '.ssh');
    mkdirSync(sshDir, { mode: 0o700 });
    chownSync(sshDir, 65534, 65534);
    await installBlock(join(sshDir, 'authorized_keys'), block, options);
    expect(statSync(join(sshDir, 'authorized_keys')).uid).toBe(65534);
  });

  it('owner option wins', async () => {
    writeFileSync(file, 'x\n', { mode: 0o600 });
    await installBlock(file, block, { ...options, owner: 'nobody' });
    expect(statSync(file).uid).toBe(65534);
  });

  it('unknown owner rejected', async () => {
    await expect(
      installBlock(file, block, { ...options, owner: 'no-such-user-x' }),
    ).rejects.toThrow(/--owner "no-such-user-x": no such user/);
  });

  it('option-like owner rejected', async () => {
    await expect(installBlock(file, block, { ...options, owner: '-G' })).rejects.toThrow(
      /not a valid user name/,
    );
  });

  it('symlink refused', async () => {
    const target = join(dir, 'target');
    writeFileSync(target, 'precious\n');
    symlinkSync(target, file);
    await expect(installBlock(file, block, options)).rejects.toThrow(/is a symbolic link/);
    expect(readFileSync(target, 'utf8')).toBe('precious\n');
    expect(lstatSync(file).isSymbolicLink()).toBe(true);
  });

  it('symlinked backup replaced not followed', async () => {
    const target = join(dir, 'target');
    writeFileSync(target, 'precious\n');
    writeFileSync(file, 'x\n', { mode: 0o600 });
    symlinkSync(target, `${file}.bak`);
    await expect(installBlock(file, block, options)).rejects.toThrow(/is a symbolic link/);
    expect(readFileSync(target, 'utf8')).toBe('precious\n');
  });

  it('FIFO refused without blocking', async () => {
    execFileSync('mkfifo', [file]);
    await expect(installBlock(file, block, options)).rejects.toThrow(/not a regular file/);
  });

  it('directory refused', async () => {
    mkdirSync(file);
    await expect(installBlock(file, block, options)).rejects.toThrow(/not a regular file/);
  });

  it('missing directory explained', async () => {
    await expect(
      installBlock(join(dir, 'nope', 'authorized_keys'), block, options),
    ).rejects.toThrow(/create it \(mode 0700, owned by the backup user\) first/);
  });
});

describe('parseMode', () => {
  it.each([
    [undefined, 0o600],
    ['0600', 0o600],
    ['640', 0o640],
    ['0644', 0o644],
  ])('%s accepted', (text, mode) => {
    expect(parseMode(text)).toBe(mode);
  });

  it.each(['0664', '0666', '0700', '600x', '8', ''])('%s rejected', (text) => {
    expect(() => parseMode(text)).toThrow(/is not allowed; use 0600, 0640 or 0644/);
  });
});

describe('fileHasContent', () => {
  const pieces = [Buffer.from('first '), Buffer.from('second\n')];

  it('same bytes and mode match', async () => {
    writeFileSync(file, 'first second\n', { mode: 0o644 });
    chmodSync(file, 0o644);
    expect(await fileHasContent(file, () => pieces, 13, 0o644)).toBe(true);
  });

  it('other bytes of same size differ', async () => {
    writeFileSync(file, 'first SECOND\n');
    chmodSync(file, 0o644);
    expect(await fileHasContent(file, () => pieces, 13, 0o644)).toBe(false);
  });

  it('other mode differs', async () => {
    writeFileSync(file, 'first second\n');
    chmodSync(file, 0o600);
    expect(await fileHasContent(file, () => pieces, 13, 0o644)).toBe(false);
  });

  it('size mismatch skips the content', async () => {
    writeFileSync(file, 'first\n');
    chmodSync(file, 0o644);
    let called = false;
    const content = () => {
      called = true;
      return pieces;
    };
    expect(await fileHasContent(file, content, 13, 0o644)).toBe(false);
    expect(called).toBe(false);
  });

  it('missing file and symlink differ', async () => {
    expect(await fileHasContent(join(dir, 'missing'), () => pieces, 13, 0o644)).toBe(false);
    writeFileSync(file, 'first second\n');
    chmodSync(file, 0o644);
    const link = join(dir, 'link');
    symlinkSync(file, link);
    expect(await fileHasContent(link, () => pieces, 13, 0o644)).toBe(false);
  });
});
