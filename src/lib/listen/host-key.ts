import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import { open, writeFile } from 'node:fs/promises';
import ssh2 from 'ssh2';
import { ListenError } from './errors.js';

export interface HostKey {
  /** The private key in OpenSSH format, as ssh2's `hostKeys` takes it. */
  privateKey: string;
  /** SHA256 fingerprint of the public key, as `ssh-keygen -lf` prints it. */
  fingerprint: string;
  /** True when this call generated the key. */
  created: boolean;
}

/** Loads the server's host key, or generates an Ed25519 key (mode 0600) when the file is missing. */
export async function loadOrCreateHostKey(file: string): Promise<HostKey> {
  const existing = await readHostKey(file);
  if (existing !== undefined) {
    return {
      privateKey: existing,
      fingerprint: fingerprintOfPrivateKey(file, existing),
      created: false,
    };
  }
  const pair = generateParsableKeyPair();
  try {
    // 'wx' fails if another process created the file meanwhile, so no key is overwritten.
    await writeFile(file, pair.private, { mode: 0o600, flag: 'wx' });
  } catch (error) {
    throw new ListenError(
      `cannot create host key ${file} (${(error as NodeJS.ErrnoException).code ?? 'error'}): ` +
        'the directory must exist and be writable by the user running borg-gate',
      { cause: error },
    );
  }
  return {
    privateKey: pair.private,
    fingerprint: fingerprintOfPrivateKey(file, pair.private),
    created: true,
  };
}

/** Returns the key text, or undefined when the file does not exist. */
async function readHostKey(file: string): Promise<string | undefined> {
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    // O_NOFOLLOW: a symlink in place of the key could make the server use a key someone else holds.
    handle = await open(file, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      return undefined;
    }
    throw new ListenError(
      `cannot open host key ${file} (${code ?? 'error'}): check the path and its owner`,
      {
        cause: error,
      },
    );
  }
  try {
    const info = await handle.stat();
    // A host key that others can read lets them impersonate this server.
    if (!info.isFile() || (info.mode & 0o077) !== 0) {
      const mode = (info.mode & 0o777).toString(8).padStart(4, '0');
      throw new ListenError(
        `host key ${file} has mode ${mode} or is not a regular file; run: chmod 600 ${file}`,
      );
    }
    return await handle.readFile('utf8');
  } finally {
    await handle.close();
  }
}

function fingerprintOfPrivateKey(file: string, privateKey: string): string {
  const parsed = ssh2.utils.parseKey(privateKey);
  if (parsed instanceof Error || Array.isArray(parsed) || !parsed.isPrivateKey()) {
    throw new ListenError(
      `host key ${file} is not an unencrypted OpenSSH private key; move it away to generate a new one`,
      {
        cause: parsed instanceof Error ? parsed : undefined,
      },
    );
  }
  const digest = createHash('sha256').update(parsed.getPublicSSH()).digest('base64');
  return `SHA256:${digest.replace(/=+$/, '')}`;
}

/** Attempts before giving up on a key pair that ssh2 can read back. */
const MAX_GENERATE_ATTEMPTS = 20;

/**
 * Generates an Ed25519 key pair that ssh2 itself parses. ssh2 1.17 drops a leading zero byte of
 * the public key when it writes the OpenSSH format, so about 1 key in 300 comes out malformed
 * (measured here: 10 in 3,000). Such a key is discarded and another one generated.
 */
function generateParsableKeyPair(): { private: string } {
  for (let attempt = 0; attempt < MAX_GENERATE_ATTEMPTS; attempt += 1) {
    const pair = ssh2.utils.generateKeyPairSync('ed25519', { comment: 'borg-gate listen' });
    if (!(ssh2.utils.parseKey(pair.private) instanceof Error)) {
      return pair;
    }
  }
  throw new ListenError(
    `could not generate a readable Ed25519 host key in ${MAX_GENERATE_ATTEMPTS} attempts`,
  );
}
