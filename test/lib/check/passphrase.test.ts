import { execFileSync } from 'node:child_process';
import { chown, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  PassphraseRefusedError,
  preparePassphrase,
  quoteForShlex,
} from '../../../src/lib/check/passphrase.js';
import { makeTempDir, PASSPHRASE, removeTempDir, writePassphraseFile } from './borg-fixtures.js';

let dir: string;

beforeAll(async () => {
  dir = await makeTempDir('passphrase');
});

afterAll(async () => {
  await removeTempDir(dir);
});

describe('preparePassphrase file', () => {
  it.each([0o600, 0o400])('mode %o accepted', async (mode) => {
    const file = await writePassphraseFile(dir, mode);
    const delivery = await preparePassphrase({ type: 'file', file });
    expect(delivery.pipeText).toBe(`${PASSPHRASE}\n`);
    expect(delivery.env).toEqual({ BORG_PASSPHRASE_FD: '3' });
  });

  it.each([0o644, 0o640, 0o604, 0o700, 0o660])('mode %o refused', async (mode) => {
    const file = await writePassphraseFile(dir, mode);
    const attempt = preparePassphrase({ type: 'file', file });
    await expect(attempt).rejects.toBeInstanceOf(PassphraseRefusedError);
    await expect(attempt).rejects.toThrow(/0600 or stricter/);
  });

  it('other owner refused', async () => {
    const file = await writePassphraseFile(dir, 0o600);
    await chown(file, 65534, 65534);
    try {
      await expect(preparePassphrase({ type: 'file', file })).rejects.toThrow(/owned by uid 65534/);
    } finally {
      await chown(file, process.getuid!(), process.getgid!());
    }
  });

  it('symlink refused', async () => {
    const file = await writePassphraseFile(dir, 0o600);
    const link = join(dir, 'link.pass');
    await symlink(file, link);
    await expect(preparePassphrase({ type: 'file', file: link })).rejects.toThrow(/ELOOP/);
  });

  it('missing file refused', async () => {
    const attempt = preparePassphrase({ type: 'file', file: join(dir, 'absent') });
    await expect(attempt).rejects.toThrow(/ENOENT/);
  });

  it('oversized file refused', async () => {
    const file = join(dir, 'huge.pass');
    await writeFile(file, 'x'.repeat(70_000), { mode: 0o600 });
    await expect(preparePassphrase({ type: 'file', file })).rejects.toThrow(/byte limit/);
  });

  it('directory refused', async () => {
    await expect(preparePassphrase({ type: 'file', file: dir })).rejects.toThrow(
      PassphraseRefusedError,
    );
  });
});

describe('quoteForShlex', () => {
  it.each([
    [['/usr/bin/pass', 'show', 'borg/a']],
    [['/bin/cat', '/etc/borg gate/with space']],
    [['/bin/echo', "it's", '"double"', '$HOME', '`id`', 'a\\b', ';', '|', '']],
    [['/bin/echo', 'line\nbreak', 'tab\there']],
  ])('round-trips %j through shlex.split', (argv) => {
    const quoted = quoteForShlex(argv);
    // Python's shlex is what borg 1.2 uses to split BORG_PASSCOMMAND.
    const split = execFileSync(
      'python3',
      ['-c', 'import json, shlex, sys; print(json.dumps(shlex.split(sys.argv[1])))', quoted],
      { encoding: 'utf8' },
    );
    expect(JSON.parse(split)).toEqual(argv);
  });

  it('passcommand goes to BORG_PASSCOMMAND', async () => {
    const delivery = await preparePassphrase({ type: 'command', argv: ['/bin/cat', '/p'] });
    expect(delivery).toEqual({ env: { BORG_PASSCOMMAND: "'/bin/cat' '/p'" }, pipeText: undefined });
  });
});
