import lockfile from 'proper-lockfile';
import {
  type Document,
  isMap,
  isScalar,
  isSeq,
  parseDocument,
  type YAMLMap,
  type YAMLSeq,
} from 'yaml';
import { keyIdentity } from '../policy/cross-checks.js';
import { cacheWrittenPolicy, loadPolicy, parsePolicy } from '../policy/load.js';
import type { Policy } from '../policy/schema.js';
import { AuthorizedKeysError } from './errors.js';
import { collectKeyRecords } from './key-records.js';
import { type PublicKey, parsePublicKey } from './public-key.js';
import { readCurrentFile, writeFileAtomic } from './safe-write.js';

/** The `keys` sequence of one client inside a policy document that keeps its comments. */
export interface ClientKeysNode {
  document: Document;
  keys: YAMLSeq;
}

/**
 * Applies `edit` to the client's `keys` list, validates the whole result like `serve` would and
 * writes it back atomically with the file's mode and owner. A lock file next to the policy keeps
 * two edits from overwriting each other.
 */
export async function editClientKeys(
  file: string,
  clientId: string,
  edit: (node: ClientKeysNode) => void,
  newKey?: PublicKey,
): Promise<Policy> {
  const { policy: before } = await loadPolicy(file);
  if (newKey !== undefined) {
    checkKeyIsNew(before, clientId, newKey, file);
  }
  const release = await lockfile.lock(file, {
    realpath: false,
    retries: { retries: 5, minTimeout: 200 },
  });
  try {
    const current = await readCurrentFile(file);
    if (current === undefined) {
      throw new AuthorizedKeysError(`${file}: policy file disappeared during the edit`);
    }
    const original = current.content.toString('utf8');
    const document = parseDocument(original);
    edit({ document, keys: findClientKeys(document, clientId, file) });
    // lineWidth 0 keeps long key lines unfolded, so they stay greppable and one key per line.
    // The padding of flow lists follows the file, so `[ a ]` lines of other clients stay as
    // they are in git.
    const source = document.toString({
      lineWidth: 0,
      flowCollectionPadding: usesFlowPadding(original),
    });
    const policy = parsePolicy(file, source);
    collectKeyRecords(policy, new Date(), file);
    const bytes = Buffer.from(source, 'utf8');
    await writeFileAtomic(file, bytes, current.mode, current.owner);
    cacheWrittenPolicy(file, { bytes, uid: current.owner.uid, mode: current.mode }, policy);
    return policy;
  } finally {
    await release();
  }
}

/**
 * Throws AuthorizedKeysError when another client already has `key`, naming that client. Checked
 * before the edit, because the policy check after it would name whichever of the two entries
 * comes later in the file.
 */
function checkKeyIsNew(policy: Policy, clientId: string, key: PublicKey, file: string): void {
  const identity = `${key.type} ${key.base64}`;
  for (const client of policy.clients) {
    const listed = client.keys.some(
      (entry) => keyIdentity(typeof entry === 'string' ? entry : entry.key) === identity,
    );
    if (listed && client.id !== clientId) {
      throw new AuthorizedKeysError(
        `${file}: key ${key.fingerprint} is already listed for client "${client.id}"; one key may belong to one client only, so remove it there first with "borg-gate keys remove --client ${client.id} --fingerprint ${key.fingerprint}"`,
      );
    }
  }
}

/** Tells whether the file's first flow list or map is written with inner spaces: `[ a ]`. */
export function usesFlowPadding(source: string): boolean {
  const first = /^[^#\n]*?[:-] +([[{])(.)/m.exec(source);
  return first !== null && first[2] === ' ';
}

function findClientKeys(document: Document, clientId: string, file: string): YAMLSeq {
  const clients = document.get('clients');
  if (!isSeq(clients)) {
    throw new AuthorizedKeysError(`${file}: "clients" is not a list`);
  }
  for (const item of clients.items) {
    if (isMap(item) && item.get('id') === clientId) {
      const keys = (item as YAMLMap).get('keys');
      if (!isSeq(keys)) {
        throw new AuthorizedKeysError(`${file}: client "${clientId}" has no "keys" list`);
      }
      return keys;
    }
  }
  throw new AuthorizedKeysError(
    `${file}: client "${clientId}" not found; check the id with "borg-gate keys list"`,
  );
}

/** Returns the key text of one `keys` item: a plain string or the `key` field of a map. */
export function entryKeyText(item: unknown): string | undefined {
  if (isScalar(item) && typeof item.value === 'string') {
    return item.value;
  }
  if (isMap(item)) {
    const key = item.get('key');
    return typeof key === 'string' ? key : undefined;
  }
  return undefined;
}

/** Parses each entry of the list, for matching by fingerprint. */
export function parseEntries(keys: YAMLSeq, clientId: string): Array<PublicKey | undefined> {
  return keys.items.map((item, index) => {
    const text = entryKeyText(item);
    return text === undefined
      ? undefined
      : parsePublicKey(text, `client "${clientId}" keys[${index}]`);
  });
}

/** Formats a time for the policy: ISO 8601 in UTC, to the second. */
export function formatPolicyTime(time: Date): string {
  return time.toISOString().replace(/\.\d{3}Z$/, 'Z');
}
