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
  /** Closes the cache file; clients() must not be called after it. */
  close(): void;
}

/**
 * Opens the whole cache of exactly the bytes `policy` describes, with the checks of
 * readCachedClient on every bucket and on the order part. Returns undefined when there is no
 * such trusted cache. The file stays open until close(), and the clients are read and decoded
 * only as the caller iterates, so memory stays flat however many clients the policy has.
 */
export function readCachedPolicy(
  policyFile: string,
  policy: PolicyDigest,
): CachedPolicy | undefined {
  const cache = openVerifiedCache(policyFile, policy);
  if (cache === undefined) {
    return undefined;
  }
  let whole: CachedPolicy | undefined;
  try {
    whole = readWholeCache(cache);
  } catch {
    whole = undefined;
  }
  if (whole === undefined) {
    closeSync(cache.fd);
  }
  return whole;
}

/** Returns true when a trusted cache of exactly `source` exists, so the cache needs no rewrite. */
export function hasCurrentCache(policyFile: string, source: PolicySource, digest: string): boolean {
  const cached = readCachedPolicy(policyFile, digestOfBytes(source.bytes, source.uid, digest));
  cached?.close();
  return cached !== undefined;
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
  const cache = openVerifiedCache(policyFile, policy);
  if (cache === undefined) {
    return undefined;
  }
  try {
    return use(cache);
  } catch {
    // A damaged cache is a miss, and the full loader then decides about the policy itself.
    return undefined;
  } finally {
    closeSync(cache.fd);
  }
}

/** Opens the cache of `policyFile` and checks its header and index; the caller closes it. */
function openVerifiedCache(policyFile: string, policy: PolicyDigest): VerifiedCache | undefined {
  const opened = openTrustedCache(cacheFileFor(policy.stateDir, policyFile), policy.uid);
  if (opened === undefined) {
    return undefined;
  }
  let cache: VerifiedCache | undefined;
  try {
    cache = verifyHead(opened.fd, opened.size, originOf(policyFile, policy));
  } catch {
    cache = undefined;
  }
  if (cache === undefined) {
    closeSync(opened.fd);
  }
  return cache;
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
 * Checks the body and the order part, then returns a reader of the clients in policy order.
 * The buckets must fill the body in index order and match their SHA-256, the order must match
 * its SHA-256, and each bucket must have exactly as many lines as the order assigns to it.
 * The body is hashed in one sequential pass. It is read again, a window per bucket, as the
 * caller iterates, so neither pass keeps the whole body in memory.
 * NOTE: bytes changed between the two passes would be read unchecked. Only the cache's owner,
 * who may also edit the policy, can change them, and borg-gate itself only replaces the file.
 */
function readWholeCache(cache: VerifiedCache): CachedPolicy | undefined {
  const { header } = cache;
  const orderStart = cache.bodyStart + header.body_bytes;
  const order = readRange(cache.fd, cache.head, orderStart, header.client_count * ORDER_DIGITS);
  if (order === undefined || sha256Hex(order) !== header.order_sha256) {
    return undefined;
  }
  const spans = bucketSpans(cache);
  const expected = spans === undefined ? undefined : linesPerBucket(order, spans.length);
  if (spans === undefined || expected === undefined || !bodyMatches(cache, spans, expected)) {
    return undefined;
  }
  return {
    settings: header.settings,
    clientCount: header.client_count,
    *clients() {
      const readers = spans.map((span) => new BucketLines(cache.fd, span));
      for (let position = 0; position < header.client_count; position += 1) {
        const line = readers[orderEntry(order, position)]!.next();
        yield parseCacheJson(line) as Client;
      }
    },
    close: () => closeSync(cache.fd),
  };
}

/** The file range of one bucket, and its SHA-256 from the index. */
interface BucketSpan {
  start: number;
  end: number;
  sha256: string;
}

/** Returns the buckets' spans, or undefined unless they fill the body in index order. */
function bucketSpans(cache: VerifiedCache): BucketSpan[] | undefined {
  const spans: BucketSpan[] = [];
  let offset = 0;
  for (let bucket = 0; bucket < cache.header.bucket_count; bucket += 1) {
    const entry = indexEntry(cache.index, bucket);
    if (entry?.offset !== offset || offset + entry.length > cache.header.body_bytes) {
      return undefined;
    }
    const start = cache.bodyStart + offset;
    spans.push({ start, end: start + entry.length, sha256: entry.sha256 });
    offset += entry.length;
  }
  return offset === cache.header.body_bytes ? spans : undefined;
}

/** Counts the clients the order part assigns to each bucket; undefined for a bad entry. */
function linesPerBucket(order: Buffer, bucketCount: number): number[] | undefined {
  const counts = new Array<number>(bucketCount).fill(0);
  for (let position = 0; position < order.length / ORDER_DIGITS; position += 1) {
    const bucket = orderEntry(order, position);
    if (bucket < 0 || bucket >= bucketCount) {
      return undefined;
    }
    counts[bucket]! += 1;
  }
  return counts;
}

/** Bytes read per step while hashing the body. */
const HASH_READ_BYTES = 1024 * 1024;

/**
 * Returns true when every bucket matches its SHA-256, has `expected` lines and ends with the
 * newline of its last line, so no line runs into the next bucket.
 */
function bodyMatches(cache: VerifiedCache, spans: BucketSpan[], expected: number[]): boolean {
  const buffer = Buffer.allocUnsafe(HASH_READ_BYTES);
  for (const [bucket, span] of spans.entries()) {
    const hash = createHash('sha256');
    let lines = 0;
    let last = 0x0a;
    for (let position = span.start; position < span.end; ) {
      const length = Math.min(buffer.length, span.end - position);
      const bytes = readInto(cache.fd, buffer, position, length);
      if (bytes === undefined) {
        return false;
      }
      hash.update(bytes);
      for (let at = bytes.indexOf(0x0a); at !== -1; at = bytes.indexOf(0x0a, at + 1)) {
        lines += 1;
      }
      last = bytes[bytes.length - 1]!;
      position += length;
    }
    if (hash.digest('hex') !== span.sha256 || lines !== expected[bucket] || last !== 0x0a) {
      return false;
    }
  }
  return true;
}

/** Bytes a bucket reader reads at a time; most client lines are a few hundred bytes. */
const LINE_WINDOW_BYTES = 16 * 1024;

/** Reads one bucket's lines in order through a window of the file. */
class BucketLines {
  /** Memory the window is read into, reused for every read. */
  private storage: Buffer = Buffer.alloc(0);
  /** The bytes of the last read. */
  private window: Buffer = Buffer.alloc(0);
  /** File position of the window's first byte. */
  private windowStart = 0;
  /** File position of the next line. */
  private position: number;

  constructor(
    private readonly fd: number,
    private readonly span: BucketSpan,
  ) {
    this.position = span.start;
  }

  /** Returns the next line without its newline; throws when the bucket has no further line. */
  next(): string {
    let size = LINE_WINDOW_BYTES;
    for (;;) {
      const from = this.position - this.windowStart;
      const newline = from < this.window.length ? this.window.indexOf(0x0a, from) : -1;
      if (newline !== -1) {
        this.position = this.windowStart + newline + 1;
        return this.window.toString('utf8', from, newline);
      }
      const length = Math.min(size, this.span.end - this.position);
      // Nothing is left, or the last read already held every byte left without a newline.
      if (length <= 0 || (from === 0 && length <= this.window.length)) {
        throw new Error(`cache bucket at byte ${this.span.start} ends inside a line`);
      }
      if (this.storage.length < length) {
        this.storage = Buffer.allocUnsafe(length);
      }
      const bytes = readInto(this.fd, this.storage, this.position, length);
      if (bytes === undefined) {
        throw new Error(`cache file ends inside the bucket at byte ${this.span.start}`);
      }
      this.window = bytes;
      this.windowStart = this.position;
      size *= 2;
    }
  }
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
  return readInto(fd, Buffer.allocUnsafe(length), position, length);
}

/**
 * Reads exactly `length` bytes at `position` into the start of `buffer` and returns them, or
 * returns undefined when the file is shorter.
 */
function readInto(fd: number, buffer: Buffer, position: number, length: number) {
  let done = 0;
  while (done < length) {
    const count = readSync(fd, buffer, done, length - done, position + done);
    if (count === 0) {
      return undefined;
    }
    done += count;
  }
  return buffer.subarray(0, length);
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}
