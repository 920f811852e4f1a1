import { type DecoderOptions, decode } from '@msgpack/msgpack';
import { ProtocolError } from './errors.js';

// framer.ts finds message boundaries, enforces limits and rejects duplicate keys. A generic
// decoder cannot do that, because it buffers a whole 20 MiB `put` payload and keeps only the last
// of two equal keys. Once the framer has checked a small message, @msgpack/msgpack decodes it here. rawStrings keeps borg's raw
// strings as bytes, because borg sends byte blobs and text alike as msgpack str.
const SMALL_MESSAGE_OPTIONS: DecoderOptions = {
  rawStrings: true,
  // With rawStrings the library checks str lengths against maxBinLength; the framer has already
  // rejected bin values and applied the str limit.
  maxBinLength: 20 * 1024 * 1024,
  maxExtLength: 0,
  maxArrayLength: 100,
  maxMapLength: 100,
};

/** One client request in borg's dict format `{i: msgid, m: method, a: {name: value}}`. */
export interface Request {
  msgid: number;
  /** Method name bytes as latin1, so every byte maps to one char and comparisons are exact. */
  method: string;
  args: Record<string, unknown>;
}

/** Decodes one complete, framer-checked message with @msgpack/msgpack. */
export function decodeMessage(bytes: Buffer): unknown {
  try {
    return decode(bytes, SMALL_MESSAGE_OPTIONS);
  } catch (error) {
    throw new ProtocolError('undecodable message', { cause: error });
  }
}

/** Decodes a dict-format request; anything else (including tuple format) is a ProtocolError. */
export function decodeRequest(bytes: Buffer): Request {
  const message = decodeMessage(bytes);
  if (!isPlainMap(message)) throw new ProtocolError('request is not a map');
  const keys = Object.keys(message).sort().join(',');
  // borg ignores extra keys and dies on missing ones; the gate accepts exactly these three.
  if (keys !== 'a,i,m') throw new ProtocolError('request keys are not exactly i, m, a');
  const { i: msgid, m: method, a: args } = message;
  if (!isMsgid(msgid)) throw new ProtocolError('msgid is not a non-negative integer');
  if (!(method instanceof Uint8Array)) throw new ProtocolError('method is not a string');
  if (!isPlainMap(args)) throw new ProtocolError('arguments are not a map');
  return { msgid, method: Buffer.from(method).toString('latin1'), args };
}

export function isMsgid(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

export function isPlainMap(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !isBytes(value);
}

function isBytes(value: unknown): value is Uint8Array {
  return value instanceof Uint8Array;
}

/**
 * Returns false only for an absent, nil or false flag. Used where "set" leads to the restrictive
 * path (`create`, `repair`, `exclusive`): Python would treat 0 or an empty string as false, the
 * gate treats them as set, so it can only be stricter than borg.
 */
export function flagIsSet(value: unknown): boolean {
  return value !== undefined && value !== null && value !== false;
}

/** Returns the truth value Python gives the decoded msgpack value, for informational flags. */
export function pythonTruthy(value: unknown): boolean {
  if (value === undefined || value === null || value === false) return false;
  if (typeof value === 'number') return value !== 0;
  if (isBytes(value) || Array.isArray(value)) return value.length > 0;
  if (typeof value === 'object') return Object.keys(value).length > 0;
  return true;
}
