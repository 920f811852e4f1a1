import type { Client, KeyEntry, Policy } from '../policy/schema.js';
import { AuthorizedKeysError } from './errors.js';
import { type PublicKey, parsePublicKey } from './public-key.js';

/** Reason a key gets no authorized_keys line, or `active` when it gets one. */
export type KeyStatus = 'active' | 'client-disabled' | 'client-expired' | 'key-expired';

/** One policy key with its client and the expiry that sshd enforces for it. */
export interface KeyRecord {
  client: Client;
  clientIndex: number;
  keyIndex: number;
  key: PublicKey;
  /** Earliest of the key's and the client's `expires`, if either is set. */
  expires: Date | undefined;
  status: KeyStatus;
}

/**
 * Parses every key in the policy and decides which ones get a line at `now`.
 * Throws AuthorizedKeysError for an unusable key or a key listed twice.
 */
export function collectKeyRecords(policy: Policy, now: Date, file = 'policy'): KeyRecord[] {
  return Array.from(eachKeyRecord(policy.clients, now, file));
}

/** The keys eachKeyRecord compares for duplicates: all of them, or those of one client. */
export type DuplicateScope = 'policy' | 'client';

/**
 * Yields the records of collectKeyRecords one at a time, so a caller that formats each one can
 * drop it. With scope `client`, only the keys of the current client stay in memory for the
 * duplicate check: use it only for clients of a policy that passed parsePolicy, whose
 * findDuplicates already refused one key under two ids. That check compares type and base64 as
 * written, and parsePublicKey accepts only canonical base64 whose type matches the blob, so
 * equal keys always have equal text there. With scope `policy`, every key seen stays in memory.
 */
export function* eachKeyRecord(
  clients: Iterable<Client>,
  now: Date,
  file = 'policy',
  scope: DuplicateScope = 'policy',
): Generator<KeyRecord> {
  const owners = new Map<string, string>();
  let clientIndex = -1;
  for (const client of clients) {
    clientIndex += 1;
    if (scope === 'client') {
      owners.clear();
    }
    for (const [keyIndex, entry] of client.keys.entries()) {
      // Built only for an error message, because 100,000 labels show up in `keys render` profiles.
      const label = () =>
        `${file}: clients[${clientIndex}].keys[${keyIndex}] (client "${client.id}")`;
      const record = buildRecord(client, clientIndex, keyIndex, entry, label, now);
      const owner = owners.get(record.key.base64);
      // One key under two ids would let sshd pick either forced command, so either client's rights.
      if (owner !== undefined) {
        const where = owner === client.id ? 'earlier in the same client' : `for client "${owner}"`;
        throw new AuthorizedKeysError(
          `${label()}: key ${record.key.fingerprint} is already listed ${where}; remove one of the two entries`,
        );
      }
      owners.set(record.key.base64, client.id);
      yield record;
    }
  }
}

export function buildRecord(
  client: Client,
  clientIndex: number,
  keyIndex: number,
  entry: KeyEntry,
  label: string | (() => string),
  now: Date,
): KeyRecord {
  const text = typeof entry === 'string' ? entry : entry.key;
  const keyExpires = typeof entry === 'string' ? undefined : entry.expires;
  const key = parsePublicKey(text, label);
  const expires = earliest(keyExpires, client.expires);
  let status: KeyStatus = 'active';
  if (client.disabled) {
    status = 'client-disabled';
  } else if (client.expires !== undefined && client.expires <= now) {
    status = 'client-expired';
  } else if (keyExpires !== undefined && keyExpires <= now) {
    status = 'key-expired';
  }
  return { client, clientIndex, keyIndex, key, expires, status };
}

function earliest(first: Date | undefined, second: Date | undefined): Date | undefined {
  if (first === undefined || second === undefined) {
    return first ?? second;
  }
  return first <= second ? first : second;
}
