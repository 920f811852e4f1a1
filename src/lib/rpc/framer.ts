import { ProtocolError } from './errors.js';
import { type Head, headSize, readHead } from './msgpack-head.js';

/** Limits and checks one framer applies to every message. */
export interface FrameLimits {
  maxArrayLength: number;
  maxMapLength: number;
  /** Max body bytes of one str. */
  maxStrLength: number;
  /** Max bytes of one top-level message. */
  maxMessageBytes: number;
  /** Max container nesting. */
  maxDepth: number;
  /** A str with a longer body is reported as bulk: its body arrives as separate `bytes` events. */
  bulkThreshold: number;
  /** Require short identifier keys without duplicates, and report values at depth 1 and 2. */
  checkKeys: boolean;
}

const MIB = 1024 * 1024;

/**
 * Limits for client-to-server requests. Array, map, str and message limits are those of the
 * borg 1.2 server unpacker, so the gate never passes what `borg serve` would die on. Depth and
 * key rules are stricter than borg, which real clients never come near.
 */
export const REQUEST_LIMITS: FrameLimits = {
  maxArrayLength: 100,
  maxMapLength: 100,
  maxStrLength: 20 * MIB,
  maxMessageBytes: 60 * MIB,
  maxDepth: 8,
  bulkThreshold: 4096,
  checkKeys: true,
};

/** Limits for server-to-client replies: the borg 1.2 client unpacker's limits. */
export const REPLY_LIMITS: FrameLimits = {
  maxArrayLength: 100_000,
  maxMapLength: 100,
  maxStrLength: 20 * MIB,
  maxMessageBytes: 60 * MIB,
  maxDepth: 8,
  bulkThreshold: Number.POSITIVE_INFINITY,
  checkKeys: false,
};

/** Map keys (top level) or argument names under them, or array indexes in between. */
export type FramePath = readonly (string | number)[];

export type FrameEvent =
  /** Checked bytes of the current message, in order; `bulk` marks the body of a bulk str. */
  | { type: 'bytes'; data: Buffer; bulk: boolean }
  /** A bulk str body of `length` bytes follows as `bytes` events with `bulk` set. */
  | { type: 'bulk'; path: FramePath; length: number }
  /** A map value at depth 1 or 2 is complete; `token` contains its bytes if it is a small scalar. */
  | { type: 'value'; path: FramePath; token: Buffer | undefined }
  /** The message is complete and valid. */
  | { type: 'end'; size: number };

interface Container {
  kind: 'array' | 'map';
  /** Items still expected: entries for an array, keys plus values for a map. */
  itemsLeft: number;
  index: number;
  key: string;
  keys: Set<string> | undefined;
}

// Keys borg uses are Python identifiers; anything else cannot be a real client's argument name.
const KEY_PATTERN = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;
const MAX_KEY_BYTES = 64;

/**
 * Splits a msgpack byte stream into top-level messages without decoding values. It enforces
 * `limits`, rejects bin, ext and the reserved byte, and emits every byte only after checking it,
 * so the bytes before a violation never form a complete message.
 *
 * The body of a bulk str is never copied: a 20 MiB `put` payload passes as slices of the input.
 */
export class Framer {
  private readonly stack: Container[] = [];
  private carry: Buffer | undefined;
  private inMessage = false;
  private messageBytes = 0;
  private bodyLeft = 0;
  private bodyIsBulk = false;
  private tokenParts: Buffer[] | undefined;
  private tokenStart = 0;
  private failure: ProtocolError | undefined;
  private buf: Buffer = Buffer.alloc(0);
  private pos = 0;
  private runStart = 0;

  constructor(private readonly limits: FrameLimits) {}

  /** True between messages, when no bytes of a partial message are pending. */
  get atBoundary(): boolean {
    return !this.inMessage && this.carry === undefined;
  }

  /**
   * Returns the bytes of the current chunk that have not been scanned yet and drops them from
   * this framer. Call it after an `end` event to stop at that message boundary.
   */
  takeUnscanned(): Buffer {
    const rest = this.buf.subarray(this.pos);
    this.buf = this.buf.subarray(0, this.pos);
    return rest;
  }

  /** Scans `chunk` and yields its events; throws ProtocolError on the first violation. */
  *push(chunk: Buffer): Generator<FrameEvent> {
    if (this.failure !== undefined) throw this.failure;
    try {
      yield* this.scan(chunk);
    } catch (error) {
      if (error instanceof ProtocolError) this.failure = error;
      throw error;
    }
  }

  private *scan(chunk: Buffer): Generator<FrameEvent> {
    this.buf = this.carry === undefined ? chunk : Buffer.concat([this.carry, chunk]);
    this.carry = undefined;
    this.pos = 0;
    this.runStart = 0;
    while (this.pos < this.buf.length) {
      if (this.bodyLeft > 0) {
        yield* this.scanBody();
        continue;
      }
      if (this.pos + headSize(this.buf[this.pos]!) > this.buf.length) {
        // A head split across chunks: keep its bytes and rescan it with the next chunk.
        this.carry = Buffer.from(this.buf.subarray(this.pos));
        this.buf = this.buf.subarray(0, this.pos);
        break;
      }
      yield* this.scanHead(readHead(this.buf, this.pos));
    }
    if (this.tokenParts !== undefined) {
      this.tokenParts.push(Buffer.from(this.buf.subarray(this.tokenStart, this.pos)));
      this.tokenStart = 0;
    }
    yield* this.flush(false);
  }

  private *scanBody(): Generator<FrameEvent> {
    const n = Math.min(this.bodyLeft, this.buf.length - this.pos);
    this.pos += n;
    this.bodyLeft -= n;
    if (this.bodyIsBulk) yield* this.flush(true);
    if (this.bodyLeft === 0) yield* this.completeValue(this.takeToken(), false);
  }

  private *scanHead(head: Head): Generator<FrameEvent> {
    const parent = this.stack.at(-1);
    const isKey = parent?.kind === 'map' && parent.itemsLeft % 2 === 0;
    this.checkHead(head, isKey);
    if (!this.inMessage) {
      this.inMessage = true;
      this.messageBytes = 0;
    }
    const bodyLength = head.kind === 'str' ? head.length : 0;
    this.messageBytes += head.size + bodyLength;
    // Blocks memory and CPU exhaustion in `borg serve`, whose buffer is 60 MiB.
    if (this.messageBytes > this.limits.maxMessageBytes)
      throw new ProtocolError('message too long');

    const capture = this.limits.checkKeys && (isKey || this.reportsValues());
    if (capture && head.kind !== 'array' && head.kind !== 'map') {
      this.tokenParts = [];
      this.tokenStart = this.pos;
    }
    this.pos += head.size;
    if (head.kind === 'array' || head.kind === 'map') {
      yield* this.openContainer(head);
    } else if (head.kind === 'str' && head.length > this.limits.bulkThreshold) {
      this.tokenParts = undefined;
      yield* this.flush(false);
      yield { type: 'bulk', path: this.path(), length: head.length };
      this.bodyLeft = head.length;
      this.bodyIsBulk = true;
    } else if (head.kind === 'str' && head.length > 0) {
      this.bodyLeft = head.length;
      this.bodyIsBulk = false;
    } else {
      yield* this.completeValue(this.takeToken(), false);
    }
  }

  private checkHead(head: Head, isKey: boolean): void {
    const { limits } = this;
    // borg unpacks with raw strings, max_bin_len=0 and max_ext_len=0; a real client sends neither.
    if (head.kind === 'bin') throw new ProtocolError('bin value');
    if (head.kind === 'ext') throw new ProtocolError('ext value');
    if (head.kind === 'reserved') throw new ProtocolError('reserved msgpack byte 0xc1');
    if (head.kind === 'str' && head.length > limits.maxStrLength) {
      throw new ProtocolError('string too long');
    }
    if (head.kind === 'array' && head.length > limits.maxArrayLength) {
      throw new ProtocolError('array too long');
    }
    if (head.kind === 'map' && head.length > limits.maxMapLength) {
      throw new ProtocolError('map too long');
    }
    const isContainer = head.kind === 'array' || head.kind === 'map';
    if (isContainer && this.stack.length >= limits.maxDepth) {
      throw new ProtocolError('nesting too deep');
    }
    // Keys are compared as bytes below, so they must be short strings the gate can read.
    if (limits.checkKeys && isKey && (head.kind !== 'str' || head.length > MAX_KEY_BYTES)) {
      throw new ProtocolError('map key is not a short string');
    }
  }

  private *openContainer(head: Head): Generator<FrameEvent> {
    const isMap = head.kind === 'map';
    this.stack.push({
      kind: isMap ? 'map' : 'array',
      itemsLeft: isMap ? head.length * 2 : head.length,
      index: 0,
      key: '',
      keys: isMap && this.limits.checkKeys ? new Set() : undefined,
    });
    if (head.length === 0) {
      this.stack.pop();
      yield* this.completeValue(undefined, true);
    }
  }

  /** Records one complete value in its parent, closing every container it completes. */
  private *completeValue(token: Buffer | undefined, isContainer: boolean): Generator<FrameEvent> {
    let valueToken = token;
    let valueIsContainer = isContainer;
    for (;;) {
      const parent = this.stack.at(-1);
      if (parent === undefined) {
        yield* this.flush(false);
        yield { type: 'end', size: this.messageBytes };
        this.inMessage = false;
        return;
      }
      if (parent.kind === 'map' && parent.itemsLeft % 2 === 0) {
        this.acceptKey(parent, valueToken!);
      } else if (this.limits.checkKeys && parent.kind === 'map' && this.reportsValues()) {
        yield* this.flush(false);
        yield {
          type: 'value',
          path: this.path(),
          token: valueIsContainer ? undefined : valueToken,
        };
      }
      parent.itemsLeft -= 1;
      if (parent.kind === 'array') parent.index += 1;
      if (parent.itemsLeft > 0) return;
      this.stack.pop();
      valueToken = undefined;
      valueIsContainer = true;
    }
  }

  private acceptKey(map: Container, token: Buffer): void {
    if (map.keys === undefined) return;
    const key = token.subarray(headSize(token[0]!)).toString('latin1');
    if (!KEY_PATTERN.test(key)) throw new ProtocolError('map key is not an identifier');
    // borg builds a Python dict, so a repeated key silently replaces the value the gate checked.
    if (map.keys.has(key)) throw new ProtocolError('duplicate map key');
    map.keys.add(key);
    map.key = key;
  }

  /** True if the value starting now sits in a map at depth 1 or 2 whose ancestors are maps. */
  private reportsValues(): boolean {
    const depth = this.stack.length;
    return depth >= 1 && depth <= 2 && this.stack.every((container) => container.kind === 'map');
  }

  private path(): FramePath {
    return this.stack.map((container) =>
      container.kind === 'map' ? container.key : container.index,
    );
  }

  private takeToken(): Buffer | undefined {
    const parts = this.tokenParts;
    if (parts === undefined) return undefined;
    this.tokenParts = undefined;
    parts.push(this.buf.subarray(this.tokenStart, this.pos));
    return parts.length === 1 ? Buffer.from(parts[0]!) : Buffer.concat(parts);
  }

  private *flush(bulk: boolean): Generator<FrameEvent> {
    if (this.pos > this.runStart) {
      yield { type: 'bytes', data: this.buf.subarray(this.runStart, this.pos), bulk };
    }
    this.runStart = this.pos;
  }
}
