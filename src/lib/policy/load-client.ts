import { readCachedClient, sourceDigest, writePolicyCache } from './cache.js';
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
 * supplies the validated settings and client. Without one, the file is parsed and validated
 * in full, which loads yaml and zod, and the cache is rewritten. Throws PolicyError.
 */
export async function loadPolicyForClient(file: string, clientId: string): Promise<ClientPolicy> {
  const source = await readPolicySource(file);
  const digest = sourceDigest(source.bytes);
  const cached = readCachedClient(file, source, digest, clientId);
  if (cached !== undefined) {
    const clients = cached.client === undefined ? [] : [cached.client];
    return { file, policy: { ...cached.settings, clients }, cache: 'hit' };
  }
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
