import { closeSync, openSync, readdirSync, readSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Encryption of a borg 1.x repository, from the key type byte that starts every stored object.
 * Values are borg 1.2's key TYPE constants (borg/crypto/key.py).
 */
export type Encryption =
  | 'keyfile'
  | 'repokey'
  | 'keyfile-blake2'
  | 'repokey-blake2'
  | 'authenticated'
  | 'authenticated-blake2'
  | 'none';

const KEY_TYPES: Record<number, Encryption> = {
  0: 'keyfile',
  2: 'none',
  3: 'repokey',
  4: 'keyfile-blake2',
  5: 'repokey-blake2',
  6: 'authenticated-blake2',
  7: 'authenticated',
};

const SEGMENT_MAGIC = Buffer.from('BORG_SEG');
/** Entry header: crc32 (4 bytes), size including the header (4, little endian), tag (1). */
const HEADER_BYTES = 9;
const ID_BYTES = 32;
const TAG_PUT = 0;
/** Segments read before giving up; `borg compact` can leave early segments with deletes only. */
const MAX_SEGMENTS = 8;
const MAX_ENTRIES_PER_SEGMENT = 10_000;

/**
 * Detects the encryption mode from the first stored object (PUT entry) in the oldest segments.
 * The repository config cannot tell `keyfile` from `none`: neither writes a `key` entry there.
 * Returns undefined when no segment contains an object or a segment is unreadable.
 * Synchronous on purpose: for a thousand repositories, small sync reads beat the thread pool.
 */
export function detectEncryption(repository: string): Encryption | undefined {
  for (const segment of listSegments(repository, MAX_SEGMENTS)) {
    const type = firstObjectKeyType(segment);
    if (type !== undefined) {
      return KEY_TYPES[type];
    }
  }
  return undefined;
}

function numericNames(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names.filter((name) => /^\d+$/.test(name)).sort((a, b) => Number(a) - Number(b));
}

function listSegments(repository: string, limit: number): string[] {
  const dataDir = join(repository, 'data');
  const segments: string[] = [];
  for (const dir of numericNames(dataDir)) {
    for (const name of numericNames(join(dataDir, dir))) {
      segments.push(join(dataDir, dir, name));
      if (segments.length >= limit) {
        return segments;
      }
    }
  }
  return segments;
}

function firstObjectKeyType(segment: string): number | undefined {
  let fd: number;
  try {
    fd = openSync(segment, 'r');
  } catch {
    return undefined;
  }
  try {
    const magic = Buffer.alloc(SEGMENT_MAGIC.length);
    readSync(fd, magic, 0, magic.length, 0);
    if (!magic.equals(SEGMENT_MAGIC)) {
      return undefined;
    }
    let position = SEGMENT_MAGIC.length;
    const header = Buffer.alloc(HEADER_BYTES + ID_BYTES + 1);
    for (let entry = 0; entry < MAX_ENTRIES_PER_SEGMENT; entry++) {
      const bytesRead = readSync(fd, header, 0, header.length, position);
      if (bytesRead < HEADER_BYTES) {
        return undefined;
      }
      const size = header.readUInt32LE(4);
      if (header[8] === TAG_PUT && bytesRead === header.length && size >= header.length) {
        return header[HEADER_BYTES + ID_BYTES];
      }
      if (size < HEADER_BYTES) {
        return undefined;
      }
      position += size;
    }
    return undefined;
  } finally {
    closeSync(fd);
  }
}
