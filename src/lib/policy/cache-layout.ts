import { createHash } from 'node:crypto';
import { encodeJson, isPlainArray, parseCacheJson, reviveDates } from './cache-json.js';
// Type imports only, so a cache hit never loads zod with the schema module.
import type { Client, Policy } from './schema.js';

// A cache file is text in four parts, so `serve` reads the header, the index and one bucket
// instead of the whole file:
//   1. one JSON line, the header: what the cache was made from, and the policy's settings;
//   2. the index: one fixed-width line per bucket, `<offset> <length> <sha256>\n`, with offset
//      and length in hex digits relative to the start of the body;
//   3. the body: the buckets one after another, each a run of client JSON lines;
//   4. the order: for each client in policy order, its bucket number in ORDER_DIGITS hex digits,
//      so admin commands can read all clients in policy order without parsing the policy.
// A client's bucket is a function of its id only. The header contains the SHA-256 of the index,
// of the order and of its own settings text. Each index line contains the SHA-256 of its bucket.
// So every byte a reader uses is bound to the header, and the header to the policy bytes.

export const FORMAT = 'borg-gate-policy-cache';
export const FORMAT_VERSION = 4;

/** Hex digits per client in the order part. */
export const ORDER_DIGITS = 8;

const HEX_DIGITS = 12;
/** Length of one index line: two 12-digit hex numbers, a 64-digit SHA-256, two spaces, `\n`. */
export const INDEX_ENTRY_BYTES = HEX_DIGITS * 2 + 64 + 3;
const INDEX_ENTRY = /^([0-9a-f]{12}) ([0-9a-f]{12}) ([0-9a-f]{64})\n$/;

/** The first line of a cache file. */
export interface CacheHeader {
  format: string;
  version: number;
  build: string;
  policy_file: string;
  source_sha256: string;
  source_size: number;
  bucket_count: number;
  index_sha256: string;
  body_bytes: number;
  client_count: number;
  order_sha256: string;
  /**
   * The audit log directory, state_dir and the policy directory with symlinks resolved, as
   * the grant checks saw them when the cache was written.
   */
  gate_dirs: string[];
  /** SHA-256 of the settings' JSON text, which ends the header line. */
  settings_sha256: string;
  settings: Omit<Policy, 'clients'>;
}

/** The text in front of the settings' JSON in a header line. */
const SETTINGS_KEY = ',"settings":';

/** Header fields that bind a cache to one build, policy path and policy content. */
export type CacheOrigin = Pick<
  CacheHeader,
  'build' | 'policy_file' | 'source_sha256' | 'source_size'
>;

/** One index line: where a bucket lies in the body, and the SHA-256 of its bytes. */
export interface BucketEntry {
  offset: number;
  length: number;
  sha256: string;
}

export function sha256Hex(bytes: Buffer | string): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Bucket count for a policy: the square root keeps both the index and each bucket small. */
function bucketCountFor(clients: number): number {
  return Math.max(1, Math.ceil(Math.sqrt(clients)));
}

/**
 * Maps a client id to its bucket with the 32-bit FNV-1a hash of its UTF-16 code units. The
 * bucket only spreads the lines, because the SHA-256 hashes in the file bind every byte. A
 * SHA-256 call per id cost the writer about 0.1 s of CPU at 100,000 ids (Node 20).
 */
export function bucketOf(clientId: string, bucketCount: number): number {
  let hash = 0x811c9dc5;
  for (let position = 0; position < clientId.length; position += 1) {
    hash = Math.imul(hash ^ clientId.charCodeAt(position), 0x01000193);
  }
  return (hash >>> 0) % bucketCount;
}

/**
 * Parses the header line, or returns undefined when it lacks a field of the right type or its
 * settings text does not match settings_sha256.
 */
export function parseHeader(line: string): CacheHeader | undefined {
  const header = JSON.parse(line, reviveDates) as Partial<CacheHeader> | null;
  // JSON escapes every quote inside a string, so the first match is the settings key itself.
  const settingsAt = line.indexOf(SETTINGS_KEY);
  if (
    header === null ||
    typeof header !== 'object' ||
    settingsAt === -1 ||
    typeof header.settings_sha256 !== 'string' ||
    sha256Hex(line.slice(settingsAt + SETTINGS_KEY.length, -1)) !== header.settings_sha256 ||
    !isCount(header.bucket_count) ||
    header.bucket_count === 0 ||
    !isCount(header.body_bytes) ||
    !isCount(header.client_count) ||
    typeof header.index_sha256 !== 'string' ||
    typeof header.order_sha256 !== 'string' ||
    !Array.isArray(header.gate_dirs) ||
    !header.gate_dirs.every((dir) => typeof dir === 'string') ||
    typeof header.settings !== 'object' ||
    header.settings === null
  ) {
    return undefined;
  }
  return header as CacheHeader;
}

/** Returns true when `header` is this format and was made by this build from exactly `origin`. */
export function headerMatches(header: CacheHeader, origin: CacheOrigin): boolean {
  return (
    header.format === FORMAT &&
    header.version === FORMAT_VERSION &&
    header.build === origin.build &&
    header.policy_file === origin.policy_file &&
    header.source_sha256 === origin.source_sha256 &&
    header.source_size === origin.source_size
  );
}

/** Reads index line `bucket`, or returns undefined when it is malformed. */
export function indexEntry(index: Buffer, bucket: number): BucketEntry | undefined {
  const start = bucket * INDEX_ENTRY_BYTES;
  const line = index.toString('latin1', start, start + INDEX_ENTRY_BYTES);
  const match = INDEX_ENTRY.exec(line);
  if (match === null) {
    return undefined;
  }
  return {
    offset: Number.parseInt(match[1]!, 16),
    length: Number.parseInt(match[2]!, 16),
    sha256: match[3]!,
  };
}

/**
 * Finds the line `{"id":"<clientId>",...}` in a bucket and decodes it. JSON text has no raw
 * newline, so a match at the start of a line is that client's line. Throws on a line that does
 * not decode to the client it names.
 */
export function findClient(bucket: Buffer, clientId: string): Client | undefined {
  const prefix = Buffer.from(`{"id":${JSON.stringify(clientId)},`);
  let start = bucket.subarray(0, prefix.length).equals(prefix) ? 0 : -1;
  if (start === -1) {
    const found = bucket.indexOf(Buffer.concat([Buffer.from('\n'), prefix]));
    start = found === -1 ? -1 : found + 1;
  }
  if (start === -1) {
    return undefined;
  }
  const end = bucket.indexOf(0x0a, start);
  const client = parseCacheJson(bucket.toString('utf8', start, end)) as Client;
  if (client.id !== clientId) {
    throw new Error(`cache line for "${clientId}" contains client "${client.id}"`);
  }
  return client;
}

/**
 * Serialises a validated policy as the four parts of a cache file: header, index, body, order.
 * Returns undefined when reading it back would not give the policy exactly, because of a value
 * JSON cannot carry or a client line that does not start with its id.
 */
export function encodeCache(
  origin: CacheOrigin,
  policy: Policy,
  gateDirs: string[] = [],
): Buffer[] | undefined {
  const { clients, ...settings } = policy;
  const settingsJson = encodeJson(settings);
  const plain = Object.getPrototypeOf(policy) === Object.prototype && isPlainArray(clients);
  if (settingsJson === undefined || !plain) {
    return undefined;
  }
  const lines = encodeClientLines(clients, bucketCountFor(clients.length));
  if (lines === undefined) {
    return undefined;
  }
  const { body, buckets } = packBuckets(lines);
  const index = Buffer.from(indexLines(buckets), 'latin1');
  const order = orderPart(lines.bucket);
  const fields = {
    format: FORMAT,
    version: FORMAT_VERSION,
    ...origin,
    bucket_count: buckets.length,
    index_sha256: sha256Hex(index),
    body_bytes: body.length,
    client_count: clients.length,
    order_sha256: sha256Hex(order),
    gate_dirs: gateDirs,
    settings_sha256: sha256Hex(settingsJson),
  };
  // The settings go last, already encoded, so the header is `fields` plus a `settings` key.
  const header = `${JSON.stringify(fields).slice(0, -1)}${SETTINGS_KEY}${settingsJson}}\n`;
  return [Buffer.from(header, 'utf8'), index, body, order];
}

/** Writes each client's bucket number, in policy order, as ORDER_DIGITS hex digits. */
function orderPart(bucketOfClient: Uint32Array): Buffer {
  const order = Buffer.alloc(bucketOfClient.length * ORDER_DIGITS);
  for (let position = 0; position < bucketOfClient.length; position += 1) {
    const digits = bucketOfClient[position]!.toString(16).padStart(ORDER_DIGITS, '0');
    order.write(digits, position * ORDER_DIGITS, 'latin1');
  }
  return order;
}

/** Reads the bucket number of the client at `position` from the order part, or returns -1. */
export function orderEntry(order: Buffer, position: number): number {
  const start = position * ORDER_DIGITS;
  const digits = order.toString('latin1', start, start + ORDER_DIGITS);
  return /^[0-9a-f]{8}$/.test(digits) ? Number.parseInt(digits, 16) : -1;
}

/** Client lines in policy order, each with its bucket and its length in UTF-8 bytes. */
interface ClientLines {
  text: string[];
  bucket: Uint32Array;
  bytes: Float64Array;
  bucketCount: number;
}

function encodeClientLines(clients: Client[], bucketCount: number): ClientLines | undefined {
  const lines: ClientLines = {
    text: new Array<string>(clients.length),
    bucket: new Uint32Array(clients.length),
    bytes: new Float64Array(clients.length),
    bucketCount,
  };
  for (let position = 0; position < clients.length; position += 1) {
    const client = clients[position]!;
    const line = encodeJson(client);
    // The reader finds a client by its line prefix, so each line must start with its id.
    if (line === undefined || !line.startsWith(`{"id":${JSON.stringify(client.id)},`)) {
      return undefined;
    }
    lines.text[position] = line;
    lines.bucket[position] = bucketOf(client.id, bucketCount);
    lines.bytes[position] = Buffer.byteLength(line, 'utf8') + 1;
  }
  return lines;
}

/**
 * Writes the lines into one body buffer, bucket after bucket and in policy order inside a
 * bucket, and returns it with each bucket's bytes (views into the body, not copies).
 */
function packBuckets(lines: ClientLines): { body: Buffer; buckets: Buffer[] } {
  const starts = new Float64Array(lines.bucketCount + 1);
  for (let position = 0; position < lines.text.length; position += 1) {
    starts[lines.bucket[position]! + 1]! += lines.bytes[position]!;
  }
  for (let bucket = 1; bucket <= lines.bucketCount; bucket += 1) {
    starts[bucket]! += starts[bucket - 1]!;
  }
  const body = Buffer.allocUnsafe(starts[lines.bucketCount]!);
  const cursors = starts.slice(0, lines.bucketCount);
  for (let position = 0; position < lines.text.length; position += 1) {
    const bucket = lines.bucket[position]!;
    const end = cursors[bucket]! + lines.bytes[position]! - 1;
    body.write(lines.text[position]!, cursors[bucket]!, 'utf8');
    body[end] = 0x0a;
    cursors[bucket] = end + 1;
  }
  const buckets = Array.from({ length: lines.bucketCount }, (_, bucket) =>
    body.subarray(starts[bucket], starts[bucket + 1]),
  );
  return { body, buckets };
}

function indexLines(buckets: Buffer[]): string {
  let offset = 0;
  let text = '';
  for (const bucket of buckets) {
    const hex = (value: number) => value.toString(16).padStart(HEX_DIGITS, '0');
    text += `${hex(offset)} ${hex(bucket.length)} ${sha256Hex(bucket)}\n`;
    offset += bucket.length;
  }
  return text;
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}
