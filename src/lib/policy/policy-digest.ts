import { createHash } from 'node:crypto';
import { readWithStamp } from './file-stamp.js';
import { closePolicyFile, openPolicyFile, readPolicyChunks } from './source.js';
import { StateDirScanner, stateDirHint } from './state-dir.js';

/** Facts of a policy file that its cache is bound to: owner, size and SHA-256 of the bytes. */
export interface PolicyDigest {
  uid: number;
  size: number;
  sha256: string;
  /** The directory a top-level `state_dir:` line of the bytes names, or the default. */
  stateDir: string;
  /** The file's stamp when it was asked for and may be recorded (file-stamp.ts). */
  stamp?: string;
}

/**
 * Opens a policy file with openPolicyFile's checks (no symlink, owner, mode, size) and
 * hashes its bytes in chunks of one reused buffer. A cache hit needs nothing else from the
 * file, so the bytes are never held in memory at once. With `withStamp`, also returns the
 * file's stamp when the bytes are settled. Throws PolicyError.
 */
export function digestPolicyFile(file: string, withStamp = false): PolicyDigest {
  const handle = openPolicyFile(file);
  try {
    const hash = createHash('sha256');
    const scanner = new StateDirScanner();
    let size = 0;
    const { stamp } = readWithStamp(handle.fd, withStamp, () => {
      readPolicyChunks(handle, (chunk) => {
        hash.update(chunk);
        scanner.push(chunk);
        size += chunk.length;
      });
    });
    const digest = {
      uid: handle.uid,
      size,
      sha256: hash.digest('hex'),
      stateDir: scanner.result(),
    };
    return withStamp ? { ...digest, stamp } : digest;
  } finally {
    closePolicyFile(handle);
  }
}

/** Returns the digest of policy bytes already read, with `sha256` computed by the caller. */
export function digestOfBytes(bytes: Buffer, uid: number, sha256: string): PolicyDigest {
  return { uid, size: bytes.length, sha256, stateDir: stateDirHint(bytes) };
}
