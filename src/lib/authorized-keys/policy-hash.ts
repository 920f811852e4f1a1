import { createHash } from 'node:crypto';
import { type PolicyFileHandle, readPolicyChunks } from '../policy/policy-file.js';

// Hashes that bind a lookup index to the policy text. `keys lookup` imports this module only
// when it consults an index, so a lookup for an unlisted key never loads node:crypto.

/** Hashes the policy text exactly as read from disk. */
export function hashPolicySource(source: string | Buffer): string {
  return createHash('sha256').update(source).digest('hex');
}

/** Hashes the policy bytes as hashPolicySource does, reading them in chunks. */
export function hashPolicyFile(handle: PolicyFileHandle): string {
  const hash = createHash('sha256');
  readPolicyChunks(handle, (chunk) => {
    hash.update(chunk);
  });
  return hash.digest('hex');
}
