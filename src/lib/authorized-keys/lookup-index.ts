import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import { NO_STAMP, STAMP_LENGTH } from '../policy/file-stamp.js';
import { AuthorizedKeysError } from './errors.js';
import type { GateCommand } from './gate-command.js';

/**
 * The lookup index: a header with the SHA-256 of the policy text, the policy file's stamp
 * (file-stamp.ts) and the forced-command paths, then one line `<base64> <entry>` for every
 * active key, sorted by base64 in byte order. `keys lookup --index` finds a line by binary
 * search with a few positional reads, and falls back to the policy whenever the policy or the
 * paths differ.
 */

/** The start of every index version; `keys write --index` overwrites only such a file. */
export const INDEX_HEADER_PREFIX = '# borg-gate lookup index';

const INDEX_HEADER = `${INDEX_HEADER_PREFIX} v3`;

/** Bytes read per step of the search; most entry lines are a few hundred bytes. */
const WINDOW_BYTES = 8192;

/** Size of the pieces IndexBuilder yields; small, so few of them wait for the collector. */
const PIECE_BYTES = 64 * 1024;

/** Maximum line length the reader accepts; a line for a 16,384-bit RSA key is about 6 KB. */
const MAX_LINE_BYTES = 1024 * 1024;

export interface IndexEntry {
  base64: string;
  line: string;
}

/** Header text up to the policy hash, which is 64 hex digits. */
const HEADER_START = `${INDEX_HEADER}\n# policy-sha256 `;

/** Header text between the policy hash and the stamp, which is STAMP_LENGTH characters. */
const STAMP_START = '\n# policy-stat ';

/** Header text after the stamp. */
function headerEnd(command: GateCommand): string {
  return `\n# gate-path ${command.gatePath}\n# policy-file ${command.policyFile}\n`;
}

function formatHeader(policyHash: string, policyStamp: string, command: GateCommand): string {
  return HEADER_START + policyHash + STAMP_START + policyStamp + headerEnd(command);
}

/** The source of IndexBuilder's entries: the rendered block's bytes, by offset in the block. */
export interface BlockSource {
  /** Copies `length` bytes of the block, from `offset` on, into `target` at `targetOffset`. */
  copy(target: Buffer, targetOffset: number, offset: number, length: number): void;
}

/** Returns a BlockSource for a block held in memory. */
export function bufferSource(block: Buffer): BlockSource {
  return {
    copy: (target, targetOffset, offset, length) => {
      block.copy(target, targetOffset, offset, offset + length);
    },
  };
}

/** Numbers IndexBuilder records per entry: key start and length, entry start and length. */
const SPAN_FIELDS = 4;

/** Largest block IndexBuilder takes, so every offset is a small integer for V8 (1 GiB). */
const MAX_BLOCK_BYTES = 2 ** 30 - 1;

/**
 * Collects what the lookup index needs of a block as it is rendered: each entry's key, and
 * where the entry lies in the block. The entries themselves are read back from the block when
 * the index is written, so the builder holds the keys (base64, about 70 bytes for Ed25519)
 * and four numbers per entry, not the lines.
 */
export class IndexBuilder {
  /** Every key's base64, one after another. */
  private keys = Buffer.allocUnsafe(64 * 1024);
  private keyBytes = 0;
  /**
   * SPAN_FIELDS numbers per entry, in block order. Uint32, so the sort's comparison reads
   * small integers and allocates no number objects, which would fill V8's young generation.
   */
  private spans = new Uint32Array(1024 * SPAN_FIELDS);
  private count = 0;
  /** The entries in key order, kept from the last pieces() until the next add(). */
  private order: Uint32Array | undefined;
  private bytes = 0;

  /** Records that the entry for the key `base64` is bytes [start, end) of the block. */
  add(base64: string, start: number, end: number): void {
    if (this.keyBytes + base64.length > this.keys.length) {
      const grown = Buffer.allocUnsafe(Math.max(this.keys.length * 2, base64.length));
      this.keys.copy(grown, 0, 0, this.keyBytes);
      this.keys = grown;
    }
    if (end > MAX_BLOCK_BYTES) {
      throw new AuthorizedKeysError(
        `the managed block is over ${MAX_BLOCK_BYTES} bytes, too large for a lookup index`,
      );
    }
    if ((this.count + 1) * SPAN_FIELDS > this.spans.length) {
      const grown = new Uint32Array(this.spans.length * 2);
      grown.set(this.spans);
      this.spans = grown;
    }
    const keyLength = this.keys.write(base64, this.keyBytes, 'latin1');
    const at = this.count * SPAN_FIELDS;
    this.spans[at] = this.keyBytes;
    this.spans[at + 1] = keyLength;
    this.spans[at + 2] = start;
    this.spans[at + 3] = end - start;
    this.keyBytes += keyLength;
    this.count += 1;
    this.order = undefined;
    // The key, a space, the entry and a newline.
    this.bytes += keyLength + 1 + (end - start) + 1;
  }

  /** Returns the index's length in bytes, as pieces() yields it. */
  byteLength(policyHash: string, command: GateCommand, policyStamp?: string): number {
    const header = formatHeader(policyHash, policyStamp ?? NO_STAMP, command);
    return Buffer.byteLength(header, 'utf8') + this.bytes;
  }

  /**
   * Yields the index in pieces of about PIECE_BYTES, its lines sorted by key, with each entry
   * read from `block`. `policyStamp` is the policy file's stamp when the hashed bytes were
   * read, or undefined when it must not be recorded. Call it again to yield it again.
   * Every piece is a view of the same memory, valid until the next piece is requested. The
   * callers hash or write each piece before they ask for the next. With a new buffer per
   * piece, 370 pieces of 64 KiB per pass left malloc holding tens of megabytes.
   */
  *pieces(
    policyHash: string,
    command: GateCommand,
    block: BlockSource,
    policyStamp?: string,
  ): Generator<Buffer> {
    const spans = this.spans;
    let buffer = Buffer.allocUnsafe(PIECE_BYTES);
    let used = buffer.write(formatHeader(policyHash, policyStamp ?? NO_STAMP, command), 'utf8');
    for (const entry of this.sortedEntries()) {
      const at = entry * SPAN_FIELDS;
      const [keyStart, keyLength, start, entryLength] = [
        spans[at]!,
        spans[at + 1]!,
        spans[at + 2]!,
        spans[at + 3]!,
      ];
      const length = keyLength + 1 + entryLength + 1;
      if (used + length > buffer.length) {
        yield buffer.subarray(0, used);
        if (length > buffer.length) {
          buffer = Buffer.allocUnsafe(length);
        }
        used = 0;
      }
      used += this.keys.copy(buffer, used, keyStart, keyStart + keyLength);
      buffer[used] = 0x20;
      block.copy(buffer, used + 1, start, entryLength);
      used += 1 + entryLength;
      buffer[used] = 0x0a;
      used += 1;
    }
    yield buffer.subarray(0, used);
  }

  /**
   * Returns the entry numbers sorted by key in byte order, as the reader compares them. A key
   * that is a prefix of another sorts first, as "<key> " does in the reader. Sorted once, as
   * `keys write` reads the pieces twice when an index exists but differs.
   */
  private sortedEntries(): Uint32Array {
    this.order ??= this.sortEntries();
    return this.order;
  }

  private sortEntries(): Uint32Array {
    const { keys, spans } = this;
    const order = Uint32Array.from({ length: this.count }, (_, entry) => entry);
    // Compared byte by byte in JavaScript: for 100,000 Ed25519 keys, a sort that called
    // Buffer.prototype.compare took 160 ms against 73 ms for this loop (one run, Node 20).
    return order.sort((left, right) => {
      const [a, b] = [left * SPAN_FIELDS, right * SPAN_FIELDS];
      const [aStart, bStart] = [spans[a]!, spans[b]!];
      const [aLength, bLength] = [spans[a + 1]!, spans[b + 1]!];
      const shorter = Math.min(aLength, bLength);
      for (let at = 0; at < shorter; at += 1) {
        const difference = keys[aStart + at]! - keys[bStart + at]!;
        if (difference !== 0) {
          return difference;
        }
      }
      return aLength - bLength || left - right;
    });
  }
}

/** Formats the whole index as one string; `entries` may come in any order. */
export function formatIndex(
  policyHash: string,
  command: GateCommand,
  entries: IndexEntry[],
  policyStamp?: string,
): string {
  const builder = new IndexBuilder();
  const lines = entries.map((entry) => Buffer.from(entry.line, 'utf8'));
  let offset = 0;
  entries.forEach((entry, index) => {
    builder.add(entry.base64, offset, offset + lines[index]!.length);
    offset += lines[index]!.length;
  });
  const block = bufferSource(Buffer.concat(lines));
  const pieces = builder.pieces(policyHash, command, block, policyStamp);
  return Buffer.concat(Array.from(pieces, (piece) => Buffer.from(piece))).toString('utf8');
}

/** An open index file that passed the owner and mode checks. */
export interface IndexFile {
  fd: number;
  file: string;
  size: number;
}

/** Opens the index, rejecting one that another user could have written. */
export function openIndex(file: string): IndexFile {
  let fd: number;
  try {
    // O_NOFOLLOW and the owner check: a user who can write the index chooses every forced command.
    fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const problem =
      code === 'ELOOP'
        ? 'it is a symbolic link; pass the path of the real file to --index'
        : (error as Error).message;
    throw new AuthorizedKeysError(`cannot open lookup index ${file}: ${problem}`, {
      cause: error,
    });
  }
  try {
    const info = fstatSync(fd);
    const uid = process.getuid?.();
    if (!info.isFile() || (info.uid !== 0 && info.uid !== uid) || (info.mode & 0o022) !== 0) {
      throw new AuthorizedKeysError(
        `lookup index ${file} must be a regular file owned by root and not writable by group or others`,
      );
    }
    return { fd, file, size: info.size };
  } catch (error) {
    closeSync(fd);
    throw error;
  }
}

export function closeIndex(index: IndexFile): void {
  closeSync(index.fd);
}

/** The entry an index has for a key, and the policy hash or stamp the caller must confirm first. */
export interface IndexMatch {
  policyHash: string;
  /** The policy file's stamp when the index was written, undefined when none was recorded. */
  policyStamp: string | undefined;
  /** The authorized_keys line, or undefined when the index has no active entry for the key. */
  entry: string | undefined;
}

/**
 * Finds the entry for a key. Returns `stale` when the header is damaged or names other paths.
 * NOTE: the match is valid only if `policyStamp` equals the policy file's stamp or
 * `policyHash` the hash of its bytes, which the caller checks.
 */
export function searchIndex(
  index: IndexFile,
  command: GateCommand,
  keyType: string,
  keyBase64: string,
): IndexMatch | 'stale' {
  const header = readHeader(index, command);
  if (header === undefined) {
    return 'stale';
  }
  const line = findLine(index, header.length, Buffer.from(`${keyBase64} `, 'latin1'));
  const policy = { policyHash: header.policyHash, policyStamp: header.policyStamp };
  if (line === undefined) {
    return { ...policy, entry: undefined };
  }
  const entry = line.toString('utf8', keyBase64.length + 1);
  // The entry ends in "<type> <base64> <comment>"; a different type word is a different key.
  const matches = entry.includes(` ${keyType} ${keyBase64} `);
  return { ...policy, entry: matches ? entry : undefined };
}

/** The recorded policy hash and stamp, and the header's length. */
interface IndexHeader {
  policyHash: string;
  policyStamp: string | undefined;
  length: number;
}

/** Reads the header. Returns undefined when it is damaged or names other paths than `command`. */
function readHeader(index: IndexFile, command: GateCommand): IndexHeader | undefined {
  const end = headerEnd(command);
  const hashEnd = HEADER_START.length + 64;
  const stampStart = hashEnd + STAMP_START.length;
  // checkGateCommand allows only ASCII paths, so characters and bytes count the same.
  const length = stampStart + STAMP_LENGTH + end.length;
  const text = readBytes(index, 0, length).toString('latin1');
  const policyHash = text.slice(HEADER_START.length, hashEnd);
  const policyStamp = text.slice(stampStart, stampStart + STAMP_LENGTH);
  const complete =
    text.length === length &&
    text.startsWith(HEADER_START) &&
    text.startsWith(STAMP_START, hashEnd) &&
    text.endsWith(end);
  if (!complete || !/^[0-9a-f]{64}$/.test(policyHash) || !/^[0-9a-f ]+$/.test(policyStamp)) {
    return undefined;
  }
  return { policyHash, policyStamp: policyStamp === NO_STAMP ? undefined : policyStamp, length };
}

/**
 * Finds by binary search the line in [bodyStart, size) that starts with `prefix` (the base64
 * and a space). Lines before `low` sort below it, lines starting at or after
 * `high` sort above it, and `low` is always the start of a line.
 */
function findLine(index: IndexFile, bodyStart: number, prefix: Buffer): Buffer | undefined {
  let low = bodyStart;
  let high = index.size;
  while (low < high) {
    const middle = low + Math.floor((high - low) / 2);
    const lineStart = middle === low ? low : nextLineStart(index, middle, high);
    if (lineStart >= high) {
      high = middle;
      continue;
    }
    const line = readLine(index, lineStart);
    const order = compareKey(line, prefix);
    if (order === 0) {
      return line;
    }
    if (order < 0) {
      low = lineStart + line.length + 1;
    } else {
      high = lineStart;
    }
  }
  return undefined;
}

/** Compares the key of `line` (its text up to the first space) with the key in `prefix`. */
function compareKey(line: Buffer, prefix: Buffer): number {
  const space = line.indexOf(0x20);
  const keyEnd = space === -1 ? line.length : space;
  return Buffer.compare(line.subarray(0, keyEnd), prefix.subarray(0, prefix.length - 1));
}

/** Returns the offset just after the first newline at or after `offset - 1`, or `limit`. */
function nextLineStart(index: IndexFile, offset: number, limit: number): number {
  let position = offset - 1;
  while (position < limit) {
    const window = readBytes(index, position, Math.min(WINDOW_BYTES, limit - position));
    const newline = window.indexOf(0x0a);
    if (newline !== -1) {
      return position + newline + 1;
    }
    position += window.length;
  }
  return limit;
}

/** Reads the line that starts at `offset`, without its newline. */
function readLine(index: IndexFile, offset: number): Buffer {
  let length = WINDOW_BYTES;
  for (;;) {
    const window = readBytes(index, offset, length);
    const newline = window.indexOf(0x0a);
    if (newline !== -1) {
      return window.subarray(0, newline);
    }
    if (offset + window.length >= index.size) {
      return window;
    }
    if (length >= MAX_LINE_BYTES) {
      throw new AuthorizedKeysError(
        `lookup index ${index.file} has a line over ${MAX_LINE_BYTES} bytes; run "borg-gate keys write --index" again`,
      );
    }
    length *= 2;
  }
}

function readBytes(index: IndexFile, offset: number, length: number): Buffer {
  const buffer = Buffer.alloc(Math.max(0, Math.min(length, index.size - offset)));
  let filled = 0;
  while (filled < buffer.length) {
    const count = readSync(index.fd, buffer, filled, buffer.length - filled, offset + filled);
    if (count === 0) {
      break;
    }
    filled += count;
  }
  return buffer.subarray(0, filled);
}
