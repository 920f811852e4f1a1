import { isMap, type YAMLSeq } from 'yaml';
import { AuthorizedKeysError } from './errors.js';
import {
  type ClientKeysNode,
  editClientKeys,
  formatPolicyTime,
  parseEntries,
} from './policy-edit.js';
import { formatPublicKey, type PublicKey, parsePublicKey } from './public-key.js';

/** Adds a key to a client as `{key, added}`; returns the parsed key. */
export async function addKey(
  file: string,
  clientId: string,
  keyText: string,
  now: Date,
): Promise<PublicKey> {
  const key = parsePublicKey(keyText, `new key for client "${clientId}"`);
  await editClientKeys(
    file,
    clientId,
    (node) => {
      appendKey(node, clientId, key, now);
    },
    key,
  );
  return key;
}

/** Removes the client's key with this SHA256 fingerprint; returns the removed key. */
export async function removeKey(
  file: string,
  clientId: string,
  fingerprint: string,
): Promise<PublicKey> {
  let removed: PublicKey | undefined;
  await editClientKeys(file, clientId, ({ keys }) => {
    const index = findByFingerprint(keys, clientId, fingerprint);
    if (keys.items.length === 1) {
      throw new AuthorizedKeysError(
        `key ${fingerprint} is the only key of client "${clientId}"; add its replacement first or set "disabled: true" on the client`,
      );
    }
    removed = parseEntries(keys, clientId)[index];
    keys.items.splice(index, 1);
  });
  return removed!;
}

/**
 * Adds the new key and sets `expires` on every older key of the client to `now + overlapMs`,
 * unless a key already expires earlier. Returns the fingerprints given that expiry in
 * `retiring`, and those that keep their earlier one in `expiringEarlier`.
 */
export async function rotateKey(
  file: string,
  clientId: string,
  keyText: string,
  overlapMs: number,
  now: Date,
): Promise<{ key: PublicKey; retiring: string[]; expiringEarlier: string[]; expires: Date }> {
  const key = parsePublicKey(keyText, `new key for client "${clientId}"`);
  const expires = new Date(now.getTime() + overlapMs);
  const retiring: string[] = [];
  const expiringEarlier: string[] = [];
  await editClientKeys(
    file,
    clientId,
    (node) => {
      const parsed = parseEntries(node.keys, clientId);
      node.keys.items.forEach((item, index) => {
        const existing = parsed[index]!;
        let entry = item;
        if (!isMap(entry)) {
          entry = node.document.createNode({ key: formatPublicKey(existing) });
          node.keys.items[index] = entry;
        }
        if (!isMap(entry)) {
          return;
        }
        const current = entry.get('expires');
        if (current === undefined || new Date(String(current)) > expires) {
          entry.set('expires', formatPolicyTime(expires));
          retiring.push(existing.fingerprint);
        } else {
          expiringEarlier.push(existing.fingerprint);
        }
      });
      appendKey(node, clientId, key, now);
    },
    key,
  );
  return { key, retiring, expiringEarlier, expires };
}

function appendKey(node: ClientKeysNode, clientId: string, key: PublicKey, now: Date): void {
  for (const existing of parseEntries(node.keys, clientId)) {
    if (existing?.base64 === key.base64) {
      throw new AuthorizedKeysError(
        `key ${key.fingerprint} is already listed for client "${clientId}"`,
      );
    }
  }
  node.keys.add(
    node.document.createNode({ key: formatPublicKey(key), added: formatPolicyTime(now) }),
  );
}

function findByFingerprint(keys: YAMLSeq, clientId: string, fingerprint: string): number {
  const index = parseEntries(keys, clientId).findIndex((key) => key?.fingerprint === fingerprint);
  if (index === -1) {
    throw new AuthorizedKeysError(
      `client "${clientId}" has no key with fingerprint ${JSON.stringify(fingerprint)}; "borg-gate keys list" shows the fingerprints`,
    );
  }
  return index;
}
