import { createHash } from 'node:crypto';
import { closeSync, constants, fstatSync, openSync, readSync, type Stats, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseCacheJson } from './cache-json.js';
import {
  bucketOf,
  type CacheHeader,
  type CacheOrigin,
  encodeCache,
  findClient,
  headerMatches,
  INDEX_ENTRY_BYTES,
  indexEntry,
  ORDER_DIGITS,
  orderEntry,
  parseHeader,
  sha256Hex,
} from './cache-layout.js';
import { writeAtomically } from './cache-write.js';
import { gateDirectories } from './cross-checks.js';
import { digestOfBytes, type PolicyDigest } from './policy-digest.js';
// Type imports only, so a cache hit never loads zod with the schema module.
import type { Client, Policy } from './schema.js';
import type { PolicySource } from './source.js';
import { stateDirHint } from './state-dir.js';

export { DEFAULT_STATE_DIR, stateDirHint } from './state-dir.js';

/**
 * Hash of the sources that validated a cached policy. scripts/build.mjs defines it, so a cache
 * written by one build is never read by another whose schema may differ.
 */
declare const BORG_GATE_BUILD_ID: string | undefined;
const BUILD_ID = typeof BORG_GATE_BUILD_ID === 'string' ? BORG_GATE_BUILD_ID : 'unbundled';

/** Bytes read first: the header and, for policies of up to about 500,000 clients, the index. */
const FIRST_READ_BYTES = 64 * 1024;

/** Largest header line read. The header contains the policy's settings, which are small. */
const MAX_HEADER_BYTES = 1024 * 1024;

/** Settings and one client read from a cache. `client` is undefined when the policy has no such id. */
export interface CachedClient {
  settings: Omit<Policy, 'clients'>;
  client: Client | undefined;
}

export function sourceDigest(bytes: Buffer): string {
  return sha256Hex(bytes);
}

/** Path of the cache for `policyFile` in `stateDir`. The name hashes the absolute policy path. */
export function cacheFileFor(stateDir: string, policyFile: string): string {
  const name = createHash('sha256').update(resolve(policyFile)).digest('hex').slice(0, 16);
  return join(stateDir, `policy-cache-${name}.cache`);
}

/**
 * Reads one client from the cache of `policyFile`. Returns undefined, so the caller validates
 * the policy in full, unless the cache is a regular file owned by the policy's owner, writable
 * by no one else, of the size its header records, from this build, made from exactly the bytes
 * `policy` was computed from, and the index and the client's bucket match their SHA-256 in the
 * header and the index. Only the header, the index and that bucket are read.
 */
export function readCachedClient(
  policyFile: string,
  policy: PolicyDigest,
  clientId: string,
): CachedClient | undefined {
  return withVerifiedCache(policyFile, policy, (cache) => {
    const bucket = readBucket(cache, bucketOf(clientId, cache.header.bucket_count));
    if (bucket === undefined) {
      return undefined;
    }
    return { settings: cache.header.settings, client: findClient(bucket, clientId) };
  });
}

/** A whole policy read from its cache: the settings, and the clients in policy order. */
export interface CachedPolicy {
  settings: Omit<Policy, 'clients'>;
  clientCount: number;
  /** Decodes the clients one line at a time, in policy order. Each call starts anew. */
  clients(): Generator<Client>;
}

/**
 * Reads the whole cache of exactly the bytes `policy` describes, with the checks of
 * readCachedClient on every bucket and on the order part. Returns undefined when there is no
 * such trusted cache. The clients are decoded only as the caller iterates, so memory stays
 * near the size of the cache.
 */
export function readCachedPolicy(
  policyFile: string,
  policy: PolicyDigest,
): CachedPolicy | undefined {
  return withVerifiedCache(policyFile, policy, readWholeCache);
}

/** Returns true when a trusted cache of exactly `source` exists, so the cache needs no rewrite. */
export function hasCurrentCache(policyFile: string, source: PolicySource, digest: string): boolean {
  const policy = digestOfBytes(source.bytes, source.uid, digest);
  return readCachedPolicy(policyFile, policy) !== undefined;
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
  const origin = originOf(policyFile, digestOfBytes(source.bytes, source.uid, digest));
  const gateDirs = gateDirectories(policy, policyFile).map((dir) => dir.real);
  const parts = encodeCache(origin, policy, gateDirs);
  if (parts === undefined) {
    return 'not-faithful';
  }
  writeAtomically(cacheFileFor(policy.state_dir, policyFile), parts, source.mode & 0o644);
  return undefined;
}

/** An open cache file whose owner, mode, size, header and index passed every check. */
interface VerifiedCache {
  fd: number;
  header: CacheHeader;
  index: Buffer;
  bodyStart: number;
  /** The bytes read from offset 0, which may already contain the bucket a reader needs. */
  head: Buffer;
}

function originOf(policyFile: string, policy: PolicyDigest): CacheOrigin {
  return {
    build: BUILD_ID,
    policy_file: resolve(policyFile),
    source_sha256: policy.sha256,
    source_size: policy.size,
  };
}

/** Opens and checks the cache of `policyFile`, passes it to `use`, and closes it. */
function withVerifiedCache<T>(
  policyFile: string,
  policy: PolicyDigest,
  use: (cache: VerifiedCache) => T | undefined,
): T | undefined {
  const opened = openTrustedCache(cacheFileFor(policy.stateDir, policyFile), policy.uid);
  if (opened === undefined) {
    return undefined;
  }
  try {
    const cache = verifyHead(opened.fd, opened.size, originOf(policyFile, policy));
    return cache === undefined ? undefined : use(cache);
  } catch {
    // A damaged cache is a miss, and the full loader then decides about the policy itself.
    return undefined;
  } finally {
    closeSync(opened.fd);
  }
}

function openTrustedCache(
  file: string,
  ownerUid: number,
): { fd: number; size: number } | undefined {
  let fd: number;
  try {
    // O_NOFOLLOW: a symlink in the state directory must not point the gate at other text.
    // O_NONBLOCK: a FIFO planted there would otherwise block the connection in open().
    fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch {
    return undefined;
  }
  let info: Stats;
  try {
    info = fstatSync(fd);
  } catch {
    closeSync(fd);
    return undefined;
  }
  // NOTE: the cache is trusted as much as the policy file: same owner, no group or other write.
  if (!info.isFile() || info.uid !== ownerUid || (info.mode & 0o022) !== 0) {
    closeSync(fd);
    return undefined;
  }
  return { fd, size: info.size };
}

/** Reads and checks the header and the index. */
function verifyHead(fd: number, size: number, origin: CacheOrigin): VerifiedCache | undefined {
  const head = readHeaderLine(fd, size);
  if (head === undefined) {
    return undefined;
  }
  const header = parseHeader(head.bytes.toString('utf8', 0, head.headerEnd));
  if (header === undefined || !headerMatches(header, origin)) {
    return undefined;
  }
  // The policy passed its grant checks with the directories as they resolved then. A symlink
  // changed since could put one of them inside a grant, so the policy must be checked again.
  const gateDirs = gateDirectories(header.settings, origin.policy_file).map((dir) => dir.real);
  if (gateDirs.join('\n') !== header.gate_dirs.join('\n')) {
    return undefined;
  }
  const indexStart = head.headerEnd + 1;
  const bodyStart = indexStart + header.bucket_count * INDEX_ENTRY_BYTES;
  // A truncated or extended file never has the size its header records.
  if (bodyStart + header.body_bytes + header.client_count * ORDER_DIGITS !== size) {
    return undefined;
  }
  const index = readRange(fd, head.bytes, indexStart, bodyStart - indexStart);
  // Swapped or edited index lines would send a reader to another client's bucket.
  if (index === undefined || sha256Hex(index) !== header.index_sha256) {
    return undefined;
  }
  return { fd, header, index, bodyStart, head: head.bytes };
}

/** Reads the bucket's bytes, or returns undefined unless they match their index line. */
function readBucket(cache: VerifiedCache, bucket: number): Buffer | undefined {
  const entry = indexEntry(cache.index, bucket);
  if (entry === undefined || entry.offset + entry.length > cache.header.body_bytes) {
    return undefined;
  }
  const bytes = readRange(cache.fd, cache.head, cache.bodyStart + entry.offset, entry.length);
  // An edited or moved client line must never reach serve as part of this policy.
  return bytes !== undefined && sha256Hex(bytes) === entry.sha256 ? bytes : undefined;
}

/**
 * Reads the body and the order part and checks them. The buckets must fill the body in index
 * order and match their SHA-256, and the order must match its SHA-256. Each bucket must also
 * have exactly as many lines as the order assigns to it.
 */
function readWholeCache(cache: VerifiedCache): CachedPolicy | undefined {
  const { header } = cache;
  const orderBytes = header.client_count * ORDER_DIGITS;
  const rest = readRange(cache.fd, cache.head, cache.bodyStart, header.body_bytes + orderBytes);
  if (rest === undefined) {
    return undefined;
  }
  const body = rest.subarray(0, header.body_bytes);
  const order = rest.subarray(header.body_bytes);
  if (sha256Hex(order) !== header.order_sha256) {
    return undefined;
  }
  const starts = bucketStarts(cache, body);
  if (starts === undefined || !linesMatchOrder(body, starts, order, header.client_count)) {
    return undefined;
  }
  return {
    settings: header.settings,
    clientCount: header.client_count,
    *clients() {
      const cursors = starts.slice(0, -1);
      for (let position = 0; position < header.client_count; position += 1) {
        const bucket = orderEntry(order, position);
        const end = body.indexOf(0x0a, cursors[bucket]);
        yield parseCacheJson(body.toString('utf8', cursors[bucket], end)) as Client;
        cursors[bucket] = end + 1;
      }
    },
  };
}

/**
 * Returns the start of each bucket in the body, followed by the body's length, or undefined
 * unless the buckets fill the body in index order and each matches its SHA-256.
 */
function bucketStarts(cache: VerifiedCache, body: Buffer): number[] | undefined {
  const starts: number[] = [];
  let offset = 0;
  for (let bucket = 0; bucket < cache.header.bucket_count; bucket += 1) {
    const entry = indexEntry(cache.index, bucket);
    if (entry?.offset !== offset || offset + entry.length > body.length) {
      return undefined;
    }
    if (sha256Hex(body.subarray(offset, offset + entry.length)) !== entry.sha256) {
      return undefined;
    }
    starts.push(offset);
    offset += entry.length;
  }
  starts.push(offset);
  return offset === body.length ? starts : undefined;
}

/** Returns true when every order entry names a bucket and each bucket has that many lines. */
function linesMatchOrder(body: Buffer, starts: number[], order: Buffer, count: number): boolean {
  const expected = new Array<number>(starts.length - 1).fill(0);
  for (let position = 0; position < count; position += 1) {
    const bucket = orderEntry(order, position);
    if (bucket < 0 || bucket >= expected.length) {
      return false;
    }
    expected[bucket]! += 1;
  }
  for (let bucket = 0; bucket < expected.length; bucket += 1) {
    const end = starts[bucket + 1]!;
    let lines = 0;
    for (
      let at = body.indexOf(0x0a, starts[bucket]);
      at !== -1 && at < end;
      at = body.indexOf(0x0a, at + 1)
    ) {
      lines += 1;
    }
    // A bucket's last byte is the newline of its last line, so no line runs into the next.
    const closed = end === starts[bucket] || body[end - 1] === 0x0a;
    if (lines !== expected[bucket] || !closed) {
      return false;
    }
  }
  return true;
}

/** Reads from offset 0 until the first newline, which ends the header. */
function readHeaderLine(fd: number, size: number) {
  let length = Math.min(size, FIRST_READ_BYTES);
  for (;;) {
    const bytes = readAt(fd, 0, length);
    const headerEnd = bytes?.indexOf(0x0a) ?? -1;
    if (bytes !== undefined && headerEnd !== -1) {
      return { bytes, headerEnd };
    }
    if (bytes === undefined || length === size || length >= MAX_HEADER_BYTES) {
      return undefined;
    }
    length = Math.min(size, length * 4);
  }
}

/** Returns `length` bytes at `position`, from `head` when it contains them. */
function readRange(fd: number, head: Buffer, position: number, length: number) {
  if (position + length <= head.length) {
    return head.subarray(position, position + length);
  }
  return readAt(fd, position, length);
}

/** Reads exactly `length` bytes at `position`, or returns undefined when the file is shorter. */
function readAt(fd: number, position: number, length: number): Buffer | undefined {
  const bytes = Buffer.allocUnsafe(length);
  let done = 0;
  while (done < length) {
    const count = readSync(fd, bytes, done, length - done, position + done);
    if (count === 0) {
      return undefined;
    }
    done += count;
  }
  return bytes;
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}
