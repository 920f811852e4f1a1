import { createHash } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
// Type imports only, so a cache hit never loads zod with the schema module.
import type { Client, Policy } from './schema.js';

// A cache file is text in three parts, so `serve` reads the header, the index and one bucket
// instead of the whole file:
//   1. one JSON line, the header: what the cache was made from, and the policy's settings;
//   2. the index: one fixed-width line per bucket, `<offset> <length> <sha256>\n`, with offset
//      and length in hex digits relative to the start of the body;
//   3. the body: the buckets one after another, each a run of client JSON lines.
// A client's bucket is a function of its id only. The header contains the SHA-256 of the index
// and each index line the SHA-256 of its bucket, so every byte a reader uses is bound to the
// header, and the header to the policy bytes.

export const FORMAT = 'borg-gate-policy-cache';
export const FORMAT_VERSION = 2;

const HEX_DIGITS = 12;
/** Length of one index line: two 12-digit hex numbers, a 64-digit SHA-256, two spaces, `\n`. */
export const INDEX_ENTRY_BYTES = HEX_DIGITS * 2 + 64 + 3;
const INDEX_ENTRY = /^([0-9a-f]{12}) ([0-9a-f]{12}) ([0-9a-f]{64})\n$/;

/** Key of the object that stands for a Date in the cache, since JSON has no date type. */
const DATE_TAG = '$borg_gate_date';

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
  settings: Omit<Policy, 'clients'>;
}

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

/** Maps a client id to its bucket with the first 32 bits of the id's SHA-256. */
export function bucketOf(clientId: string, bucketCount: number): number {
  return createHash('sha256').update(clientId).digest().readUInt32BE(0) % bucketCount;
}

/** Parses the header line, or returns undefined when it lacks a field of the right type. */
export function parseHeader(line: string): CacheHeader | undefined {
  const header = JSON.parse(line, reviveDates) as Partial<CacheHeader> | null;
  if (
    header === null ||
    typeof header !== 'object' ||
    !isCount(header.bucket_count) ||
    header.bucket_count === 0 ||
    !isCount(header.body_bytes) ||
    typeof header.index_sha256 !== 'string' ||
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
  const client = JSON.parse(bucket.toString('utf8', start, end), reviveDates) as Client;
  if (client.id !== clientId) {
    throw new Error(`cache line for "${clientId}" contains client "${client.id}"`);
  }
  return client;
}

/**
 * Serialises a validated policy, or returns undefined when reading it back would not give it
 * exactly (a field JSON cannot carry, or a client line that does not start with its id).
 */
export function encodeCache(origin: CacheOrigin, policy: Policy): Buffer | undefined {
  const { clients, ...settings } = policy;
  const lines = clients.map((client) => JSON.stringify(client, tagDates));
  // The reader finds a client by its line prefix, so each line must start with its id.
  const prefixed = lines.every((line, index) =>
    line.startsWith(`{"id":${JSON.stringify(clients[index]!.id)},`),
  );
  if (!prefixed || !decodesTo(settings, lines, policy)) {
    return undefined;
  }
  const bucketCount = bucketCountFor(clients.length);
  const buckets: string[][] = Array.from({ length: bucketCount }, () => []);
  lines.forEach((line, index) => {
    buckets[bucketOf(clients[index]!.id, bucketCount)]!.push(`${line}\n`);
  });
  const bodies = buckets.map((bucket) => Buffer.from(bucket.join(''), 'utf8'));
  const index = Buffer.from(indexLines(bodies), 'latin1');
  const header: CacheHeader = {
    format: FORMAT,
    version: FORMAT_VERSION,
    ...origin,
    bucket_count: bucketCount,
    index_sha256: sha256Hex(index),
    body_bytes: bodies.reduce((sum, body) => sum + body.length, 0),
    settings,
  };
  return Buffer.concat([Buffer.from(`${JSON.stringify(header, tagDates)}\n`), index, ...bodies]);
}

function indexLines(bodies: Buffer[]): string {
  let offset = 0;
  let text = '';
  for (const body of bodies) {
    const hex = (value: number) => value.toString(16).padStart(HEX_DIGITS, '0');
    text += `${hex(offset)} ${hex(body.length)} ${sha256Hex(body)}\n`;
    offset += body.length;
  }
  return text;
}

/** Returns true when the JSON of `settings` and of each client line decodes to `policy`. */
function decodesTo(settings: object, lines: string[], policy: Policy): boolean {
  const decoded = {
    ...JSON.parse(JSON.stringify(settings, tagDates), reviveDates),
    clients: lines.map((line) => JSON.parse(line, reviveDates)),
  };
  // A field JSON cannot carry (a new Date field, a Map) must never reach serve changed.
  return isDeepStrictEqual(decoded, policy);
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
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
