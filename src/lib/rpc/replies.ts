import { encode } from '@msgpack/msgpack';

/** Version tuple the gate reports in its own `negotiate` reply (borg 1.2.4, release build). */
export const DEFAULT_SERVER_VERSION: readonly [number, number, number, number] = [1, 2, 4, -1];

// NOTE: borg packs with use_bin_type=False, so every string and byte blob is a msgpack str/raw.
// @msgpack/msgpack encodes JS strings as str (fixstr, str8, str16, str32) and only Uint8Array as
// bin, so these encoders pass JS strings only. A borg 1.2 client accepts str8, although borg
// itself never emits it.

/**
 * Encodes the reply to the client's first call, `negotiate`, in the legacy tuple format that
 * `borg serve` 1.2 uses for it: `[1, msgid, nil, {server_version: (a, b, c, d)}]`.
 */
export function encodeNegotiateReply(
  msgid: number,
  serverVersion: readonly [number, number, number, number] = DEFAULT_SERVER_VERSION,
): Buffer {
  return toBuffer(encode([1, msgid, null, { server_version: [...serverVersion] }]));
}

/**
 * Encodes a dict-format error reply. A borg 1.2 or 1.4 client raises it for the call `msgid`;
 * with `exception_trace` false it prints `exception_short` (exactly `message` for a class name
 * it does not rebuild locally) and exits with rc 2.
 */
export function encodeErrorReply(msgid: number, exceptionClass: string, message: string): Buffer {
  return toBuffer(
    encode({
      i: msgid,
      exception_class: exceptionClass,
      exception_args: [message],
      exception_short: [message],
      exception_full: [message],
      exception_trace: false,
      sysinfo: '',
    }),
  );
}

/** Encodes a dict-format success reply `{i: msgid, r: nil}`, as borg sends for `rollback`. */
export function encodeNilResultReply(msgid: number): Buffer {
  return toBuffer(encode({ i: msgid, r: null }));
}

/**
 * Encodes the reply of a gate that no longer runs borg for the session: a nil result for
 * `rollback`, which only resets borg's memory of the transaction and which every client sends
 * after an error, and an error reply for any other method.
 */
export function encodeEndedSessionReply(
  msgid: number,
  method: string | undefined,
  exceptionClass: string,
  message: string,
): Buffer {
  if (method === 'rollback') return encodeNilResultReply(msgid);
  return encodeErrorReply(msgid, exceptionClass, message);
}

function toBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
