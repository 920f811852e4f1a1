import type { Readable } from 'node:stream';
import { ChunkReader } from './chunks.js';
import {
  decodeMessage,
  decodeRequest,
  flagIsSet,
  isMsgid,
  isPlainMap,
  pythonTruthy,
} from './decode.js';
import { ProtocolError } from './errors.js';
import { Framer, REQUEST_LIMITS } from './framer.js';

/** The client's first call, `[1, msgid, 'negotiate', [client_data]]`. */
export interface Negotiate {
  msgid: number;
  /** `client_version` from client_data, for example [1, 2, 4, -1]; absent if not sent. */
  clientVersion?: number[];
}

/** Arguments of the client's `open` call, decoded for policy checks and the audit log. */
export interface OpenRequest {
  msgid: number;
  /** Repository path exactly as the client sent it, before borg resolves `~` or `/./`. */
  path: string;
  /** True unless `create` is absent, nil or false; `open` then creates a repository. */
  create: boolean;
  lock: boolean;
  /** True unless `exclusive` is absent, nil or false. */
  exclusive: boolean;
  appendOnly: boolean;
  makeParentDirs: boolean;
  lockWait?: number;
}

export interface Handshake {
  negotiateBytes: Buffer;
  openBytes: Buffer;
  clientVersion?: number[];
  open: OpenRequest;
  /** Bytes read after `open`; normally empty because the client waits for the open reply. */
  rest: Buffer;
}

export interface HandshakeOptions {
  /** Called after `negotiate` is read; it must send the reply, because the client waits for it. */
  onNegotiate: (negotiate: Negotiate) => void | Promise<void>;
  /** Rejects the handshake after this long (default 30 s). */
  timeoutMs?: number;
}

// Both messages are about 100 bytes plus the path; a bigger one cannot come from a real client.
const MAX_HANDSHAKE_MESSAGE_BYTES = 64 * 1024;

/**
 * Reads the client's `negotiate` and the `open` that follows it, calling `onNegotiate` in between.
 * Throws ProtocolError if the client sends anything else first, breaks framing, closes early or
 * times out. On return, `input` is detached and positioned after the bytes in `rest`.
 */
export async function readHandshake(
  input: Readable,
  options: HandshakeOptions,
): Promise<Handshake> {
  const reader = new ChunkReader(input);
  const framer = new Framer(REQUEST_LIMITS);
  const pending: Buffer[] = [];
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    const reason = new ProtocolError('handshake timed out');
    timer = setTimeout(() => reject(reason), options.timeoutMs ?? 30_000);
  });
  try {
    const readNext = () => Promise.race([nextMessage(reader, framer, pending), timeout]);
    const negotiateBytes = await readNext();
    const negotiate = parseNegotiate(negotiateBytes);
    await options.onNegotiate(negotiate);
    const openBytes = await readNext();
    const open = parseOpen(openBytes);
    await reader.release();
    const { clientVersion } = negotiate;
    const rest = Buffer.concat(pending);
    return { negotiateBytes, openBytes, ...(clientVersion && { clientVersion }), open, rest };
  } finally {
    clearTimeout(timer);
  }
}

/** Reads until the framer completes one message; leftover bytes stay in `pending`. */
async function nextMessage(
  reader: ChunkReader,
  framer: Framer,
  pending: Buffer[],
): Promise<Buffer> {
  const parts: Buffer[] = [];
  let size = 0;
  for (;;) {
    const chunk = pending.length > 0 ? Buffer.concat(pending.splice(0)) : await reader.next();
    if (chunk === undefined) throw new ProtocolError('connection closed during handshake');
    for (const event of framer.push(chunk)) {
      if (event.type === 'bytes') {
        size += event.data.length;
        // A refused session must not make the gate buffer a 60 MiB message.
        if (size > MAX_HANDSHAKE_MESSAGE_BYTES)
          throw new ProtocolError('handshake message too long');
        parts.push(Buffer.from(event.data));
      } else if (event.type === 'end') {
        // Stop at the boundary and keep the unscanned rest of the chunk for the next message.
        const tail = framer.takeUnscanned();
        if (tail.length > 0) pending.push(Buffer.from(tail));
        return Buffer.concat(parts);
      }
    }
  }
}

function parseNegotiate(bytes: Buffer): Negotiate {
  const message = decodeMessage(bytes);
  // borg 1.2 and 1.4 clients always open with the legacy tuple [1, msgid, 'negotiate', [data]].
  if (!Array.isArray(message) || message.length !== 4) {
    throw new ProtocolError('first message is not a tuple-format negotiate');
  }
  const [, msgid, method, args] = message as unknown[];
  if (!isMsgid(msgid)) throw new ProtocolError('msgid is not a non-negative integer');
  if (!bytesEqual(method, 'negotiate')) {
    throw new ProtocolError('first message is not a tuple-format negotiate');
  }
  const clientData = Array.isArray(args) && args.length === 1 ? args[0] : undefined;
  // A borg 1.0 client sends the integer 2 and then speaks the tuple format the gate rejects.
  if (!isPlainMap(clientData)) throw new ProtocolError('negotiate without client data map');
  const version = clientData.client_version;
  const isVersion = Array.isArray(version) && version.every((part) => Number.isSafeInteger(part));
  return { msgid, ...(isVersion && { clientVersion: version as number[] }) };
}

function parseOpen(bytes: Buffer): OpenRequest {
  const request = decodeRequest(bytes);
  if (request.method !== 'open') throw new ProtocolError('second message is not open');
  const { args } = request;
  const lockWait = args.lock_wait;
  return {
    msgid: request.msgid,
    path: decodePath(args.path),
    create: flagIsSet(args.create),
    // borg's open() defaults lock to True.
    lock: args.lock === undefined ? true : pythonTruthy(args.lock),
    exclusive: flagIsSet(args.exclusive),
    appendOnly: pythonTruthy(args.append_only),
    makeParentDirs: pythonTruthy(args.make_parent_dirs),
    ...(typeof lockWait === 'number' && { lockWait }),
  };
}

const UTF8 = new TextDecoder('utf-8', { fatal: true });

function decodePath(value: unknown): string {
  if (!(value instanceof Uint8Array)) throw new ProtocolError('open path is not a string');
  let path: string;
  try {
    path = UTF8.decode(value);
  } catch (error) {
    throw new ProtocolError('open path is not valid UTF-8', { cause: error });
  }
  // Python's os calls raise on a NUL, so borg fails anyway; rejecting it keeps the log honest.
  if (path.includes('\0')) throw new ProtocolError('open path contains NUL');
  return path;
}

function bytesEqual(value: unknown, expected: string): boolean {
  return value instanceof Uint8Array && Buffer.from(value).toString('latin1') === expected;
}
