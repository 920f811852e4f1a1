import { createHash, randomBytes } from 'node:crypto';
import {
  closeSync,
  constants,
  fchmodSync,
  fstatSync,
  fsyncSync,
  openSync,
  readFileSync,
  renameSync,
  statSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { join, resolve } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
// Type imports only, so a cache hit never loads zod with the schema module.
import type { Client, Policy } from './schema.js';
import type { PolicySource } from './source.js';

/**
 * Hash of the sources that validated a cached policy. scripts/build.mjs defines it, so a cache
 * written by one build is never read by another whose schema may differ.
 */
declare const BORG_GATE_BUILD_ID: string | undefined;
const BUILD_ID = typeof BORG_GATE_BUILD_ID === 'string' ? BORG_GATE_BUILD_ID : 'unbundled';

const FORMAT = 'borg-gate-policy-cache';
const FORMAT_VERSION = 1;

/** The schema's default `state_dir`. A unit test keeps the two equal. */
export const DEFAULT_STATE_DIR = '/var/lib/borg-gate';

/** Key of the object that stands for a Date in the cache, since JSON has no date type. */
const DATE_TAG = '$borg_gate_date';

/** First line of a cache file. One JSON line per client follows. */
interface CacheHeader {
  format: string;
  version: number;
  build: string;
  policy_file: string;
  source_sha256: string;
  source_size: number;
  /** Bytes after the header line, so a truncated file is never read. */
  body_bytes: number;
  settings: Omit<Policy, 'clients'>;
}

/** Settings and one client read from a cache. `client` is undefined when the policy has no such id. */
export interface CachedClient {
  settings: Omit<Policy, 'clients'>;
  client: Client | undefined;
}

export function sourceDigest(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/**
 * Returns the directory a plain top-level `state_dir: /path` line names, or the default. Any
 * other spelling (quotes, flow style) yields a directory where no cache is written, so the
 * policy is validated in full on every connection.
 */
export function stateDirHint(bytes: Buffer): string {
  const key = Buffer.from('state_dir:');
  let start = bytes.subarray(0, key.length).equals(key) ? 0 : -1;
  if (start === -1) {
    const found = bytes.indexOf(Buffer.from('\nstate_dir:'));
    start = found === -1 ? -1 : found + 1;
  }
  if (start === -1) {
    return DEFAULT_STATE_DIR;
  }
  const end = bytes.indexOf(0x0a, start);
  const line = bytes.toString('utf8', start + key.length, end === -1 ? undefined : end);
  const match = /^[ \t]*(\/[^\s#'"]*)[ \t]*(#.*)?\r?$/.exec(line);
  return match?.[1] ?? DEFAULT_STATE_DIR;
}

/** Path of the cache for `policyFile` in `stateDir`. The name hashes the absolute policy path. */
export function cacheFileFor(stateDir: string, policyFile: string): string {
  const name = createHash('sha256').update(resolve(policyFile)).digest('hex').slice(0, 16);
  return join(stateDir, `policy-cache-${name}.json`);
}

/**
 * Reads one client from the cache of `policyFile`. Returns undefined, so the caller validates
 * the policy in full, unless the cache is a regular file owned by the policy's owner, writable
 * by no one else, complete, from this build, and made from exactly `source`'s bytes.
 */
export function readCachedClient(
  policyFile: string,
  source: PolicySource,
  digest: string,
  clientId: string,
): CachedClient | undefined {
  const bytes = readTrustedCache(cacheFileFor(stateDirHint(source.bytes), policyFile), source);
  if (bytes === undefined) {
    return undefined;
  }
  try {
    const headerEnd = bytes.indexOf(0x0a);
    const header = JSON.parse(bytes.toString('utf8', 0, headerEnd), reviveDates) as CacheHeader;
    if (!headerMatches(header, policyFile, source, digest, bytes.length - headerEnd - 1)) {
      return undefined;
    }
    return { settings: header.settings, client: findClient(bytes, headerEnd, clientId) };
  } catch {
    // A damaged cache is a miss, and the full loader then decides about the policy itself.
    return undefined;
  }
}

function readTrustedCache(file: string, source: PolicySource): Buffer | undefined {
  let fd: number;
  try {
    // O_NOFOLLOW: a symlink in the state directory must not point the gate at other text.
    fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch {
    return undefined;
  }
  try {
    const info = fstatSync(fd);
    // NOTE: the cache is trusted as much as the policy file: same owner, no group or other write.
    if (!info.isFile() || info.uid !== source.uid || (info.mode & 0o022) !== 0) {
      return undefined;
    }
    return readFileSync(fd);
  } finally {
    closeSync(fd);
  }
}

function headerMatches(
  header: CacheHeader,
  policyFile: string,
  source: PolicySource,
  digest: string,
  bodyBytes: number,
): boolean {
  return (
    header.format === FORMAT &&
    header.version === FORMAT_VERSION &&
    header.build === BUILD_ID &&
    header.policy_file === resolve(policyFile) &&
    header.source_sha256 === digest &&
    header.source_size === source.bytes.length &&
    header.body_bytes === bodyBytes
  );
}

/** Finds the line `{"id":"<clientId>",...}`. JSON text has no raw newline, so a match starts a line. */
function findClient(bytes: Buffer, headerEnd: number, clientId: string): Client | undefined {
  const needle = Buffer.from(`\n{"id":${JSON.stringify(clientId)},`);
  const start = bytes.indexOf(needle, headerEnd);
  if (start === -1) {
    return undefined;
  }
  const end = bytes.indexOf(0x0a, start + 1);
  const client = JSON.parse(bytes.toString('utf8', start + 1, end), reviveDates) as Client;
  if (client.id !== clientId) {
    throw new Error(`cache line for "${clientId}" contains client "${client.id}"`);
  }
  return client;
}

/** Reason a cache was not written. */
export type CacheSkip = 'not-owner' | 'no-state-dir' | 'state-dir-unreadable' | 'not-faithful';

/**
 * Writes the cache for a policy that passed every check, atomically (temp file and rename).
 * Skips it when this process does not own the policy file, since readers would ignore the
 * cache, and when JSON cannot carry the validated policy exactly. Write errors are thrown.
 */
export function writePolicyCache(
  policyFile: string,
  source: PolicySource,
  digest: string,
  policy: Policy,
): CacheSkip | undefined {
  if (process.getuid?.() !== source.uid) {
    return 'not-owner';
  }
  if (stateDirHint(source.bytes) !== policy.state_dir) {
    return 'state-dir-unreadable';
  }
  if (!isDirectory(policy.state_dir)) {
    return 'no-state-dir';
  }
  const text = encodeCache(policyFile, source, digest, policy);
  if (text === undefined) {
    return 'not-faithful';
  }
  writeAtomically(cacheFileFor(policy.state_dir, policyFile), text, source.mode & 0o644);
  return undefined;
}

/** Returns true when a trusted cache of exactly `source` exists, so admin commands skip a rewrite. */
export function hasCurrentCache(policyFile: string, source: PolicySource, digest: string): boolean {
  const bytes = readTrustedCache(cacheFileFor(stateDirHint(source.bytes), policyFile), source);
  if (bytes === undefined) {
    return false;
  }
  try {
    const headerEnd = bytes.indexOf(0x0a);
    const header = JSON.parse(bytes.toString('utf8', 0, headerEnd), reviveDates) as CacheHeader;
    return headerMatches(header, policyFile, source, digest, bytes.length - headerEnd - 1);
  } catch {
    return false;
  }
}

/** Serialises the policy, or returns undefined when reading it back would not give it exactly. */
function encodeCache(
  policyFile: string,
  source: PolicySource,
  digest: string,
  policy: Policy,
): string | undefined {
  const { clients, ...settings } = policy;
  const lines = clients.map((client) => JSON.stringify(client, tagDates));
  // The reader finds a client by its line prefix, so each line must start with its id.
  if (
    !lines.every((line, index) => line.startsWith(`{"id":${JSON.stringify(clients[index]!.id)},`))
  ) {
    return undefined;
  }
  const body = `\n${lines.join('\n')}\n`;
  const header: CacheHeader = {
    format: FORMAT,
    version: FORMAT_VERSION,
    build: BUILD_ID,
    policy_file: resolve(policyFile),
    source_sha256: digest,
    source_size: source.bytes.length,
    body_bytes: Buffer.byteLength(body) - 1,
    settings: JSON.parse(JSON.stringify(settings, tagDates), reviveDates),
  };
  const decoded = {
    ...header.settings,
    clients: lines.map((line) => JSON.parse(line, reviveDates)),
  };
  // A field JSON cannot carry (a new Date field, a Map) must never reach serve changed.
  if (!isDeepStrictEqual(decoded, policy)) {
    return undefined;
  }
  return `${JSON.stringify(header, tagDates)}${body}`;
}

function tagDates(this: Record<string, unknown>, key: string, value: unknown): unknown {
  const raw = this[key];
  return raw instanceof Date ? { [DATE_TAG]: raw.toISOString() } : value;
}

function reviveDates(_key: string, value: unknown): unknown {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    const entries = Object.keys(value);
    const tagged = (value as Record<string, unknown>)[DATE_TAG];
    if (entries.length === 1 && typeof tagged === 'string') {
      return new Date(tagged);
    }
  }
  return value;
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

function writeAtomically(file: string, text: string, mode: number): void {
  const temp = `${file}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  const fd = openSync(
    temp,
    constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
    0o600,
  );
  let closed = false;
  try {
    // fchmod, not the open mode, so the umask cannot hide the cache from the reading user.
    fchmodSync(fd, mode);
    writeAll(fd, Buffer.from(text, 'utf8'));
    fsyncSync(fd);
    closed = true;
    closeSync(fd);
    renameSync(temp, file);
  } catch (error) {
    if (!closed) {
      closeSync(fd);
    }
    unlinkSync(temp);
    throw error;
  }
}

function writeAll(fd: number, bytes: Buffer): void {
  let offset = 0;
  while (offset < bytes.length) {
    offset += writeSync(fd, bytes, offset);
  }
}
