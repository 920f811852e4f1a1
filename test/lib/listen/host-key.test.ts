import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ListenError } from '../../../src/lib/listen/errors.js';
import { loadOrCreateHostKey } from '../../../src/lib/listen/host-key.js';

describe('loadOrCreateHostKey', () => {
  let dir: string;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'borg-gate-host-key-'));
  });

  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('creates an ed25519 key with mode 0600', async () => {
    const file = join(dir, 'key');
    const key = await loadOrCreateHostKey(file);
    expect(key.created).toBe(true);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const publicKey = execFileSync('ssh-keygen', ['-y', '-f', file]).toString();
    expect(publicKey).toMatch(/^ssh-ed25519 /);
    const listed = execFileSync('ssh-keygen', ['-l', '-f', '-'], { input: publicKey }).toString();
    expect(listed).toContain(key.fingerprint);
  });

  it('creates readable keys every time', async () => {
    // ssh2 writes about 1 generated key in 300 malformed; 1,500 keys would hit that about 5 times.
    for (let index = 0; index < 1500; index += 1) {
      const file = join(dir, `key${index}`);
      const created = await loadOrCreateHostKey(file);
      const loaded = await loadOrCreateHostKey(file);
      expect(loaded.fingerprint).toBe(created.fingerprint);
    }
  });

  it('loads the same key again', async () => {
    const file = join(dir, 'key');
    const first = await loadOrCreateHostKey(file);
    const second = await loadOrCreateHostKey(file);
    expect(second.created).toBe(false);
    expect(second.fingerprint).toBe(first.fingerprint);
  });

  it('loads a key from ssh-keygen', async () => {
    const file = join(dir, 'key');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', file]);
    const key = await loadOrCreateHostKey(file);
    expect(key.created).toBe(false);
    expect(readFileSync(`${file}.pub`, 'utf8')).toMatch(/^ssh-ed25519 /);
  });

  it('rejects a key readable by others', async () => {
    const file = join(dir, 'key');
    await loadOrCreateHostKey(file);
    chmodSync(file, 0o644);
    await expect(loadOrCreateHostKey(file)).rejects.toThrow(/mode 0644.*chmod 600/);
  });

  it('rejects a symlink', async () => {
    const file = join(dir, 'key');
    await loadOrCreateHostKey(file);
    symlinkSync(file, join(dir, 'link'));
    await expect(loadOrCreateHostKey(join(dir, 'link'))).rejects.toBeInstanceOf(ListenError);
  });

  it('rejects a file that is no key', async () => {
    const file = join(dir, 'key');
    writeFileSync(file, 'not a key\n', { mode: 0o600 });
    await expect(loadOrCreateHostKey(file)).rejects.toThrow(
      /not an unencrypted OpenSSH private key/,
    );
  });

  it('reports a missing directory', async () => {
    await expect(loadOrCreateHostKey(join(dir, 'missing', 'key'))).rejects.toThrow(
      /cannot create host key .*ENOENT/,
    );
  });
});
