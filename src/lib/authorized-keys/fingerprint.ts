import { createHash } from 'node:crypto';

/**
 * Computes the SHA-256 fingerprint of a key blob as `ssh-keygen -l` prints it. Kept free of key
 * parsing so that `serve`, which fingerprints the key sshd reports, loads nothing else.
 */
export function blobFingerprint(blob: Buffer): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}
