import { readCachedClient, sourceDigest, writePolicyCache } from './cache.js';
import { digestPolicyFile } from './policy-digest.js';
import type { Policy } from './schema.js';
import { readPolicySource } from './source.js';

/** The policy as one connection needs it. */
export interface ClientPolicy {
  file: string;
  /** All settings, and in `clients` only the client that connected (none if it is unknown). */
  policy: Policy;
  /** `hit` when the validated policy came from the cache, `miss` when the file was parsed. */
  cache: 'hit' | 'miss';
}

/**
 * Loads the policy for the connection of `clientId`. The file's owner, mode and size are
 * checked and its bytes hashed every time. A trusted cache made from exactly those bytes
 * supplies the validated settings and client. Without one, the file is read again, parsed and
 * validated in full, which loads the YAML parser and zod, and the cache is rewritten. Throws PolicyError.
 */
export async function loadPolicyForClient(file: string, clientId: string): Promise<ClientPolicy> {
  const cached = readCachedClient(file, digestPolicyFile(file), clientId);
  if (cached !== undefined) {
    const clients = cached.client === undefined ? [] : [cached.client];
    return { file, policy: { ...cached.settings, clients }, cache: 'hit' };
  }
  // The file may have changed since it was hashed, so the parse and the new cache both use
  // the bytes of this second read.
  const source = await readPolicySource(file);
  const digest = sourceDigest(source.bytes);
  const { parsePolicy } = await import('./load.js');
  const policy = parsePolicy(file, source.bytes.toString('utf8'));
  try {
    writePolicyCache(file, source, digest, policy);
  } catch {
    // NOTE: a cache that cannot be written only costs the next connection a full parse.
  }
  const clients = policy.clients.filter((client) => client.id === clientId);
  return { file, policy: { ...policy, clients }, cache: 'miss' };
}
