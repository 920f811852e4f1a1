import { createHash } from 'node:crypto';
import { type PolicyFileHandle, readPolicyChunks } from '../policy/policy-file.js';

// The hash that binds a lookup index to the policy bytes. `keys lookup` imports this module only
// when it consults an index, so a lookup for an unlisted key never loads node:crypto.

/** Hashes the policy bytes in chunks, as sourceDigest hashes them for the index writer. */
export function hashPolicyFile(handle: PolicyFileHandle): string {
  const hash = createHash('sha256');
  readPolicyChunks(handle, (chunk) => {
    hash.update(chunk);
  });
  return hash.digest('hex');
}
