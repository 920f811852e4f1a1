import type { Readable, Writable } from 'node:stream';
import { ProtocolError } from './errors.js';
import { REFUSAL_CLASS, REFUSAL_MESSAGES, type SessionMode } from './policy.js';
import { encodeEndedSessionReply, encodeErrorReply, encodeNilResultReply } from './replies.js';
import { ReplyChannel } from './reply-channel.js';
import { type FilterOutput, RequestFilter } from './request-filter.js';
import { pumpChunks } from './streams.js';

/** The gate reads `borg serve` stdout and copies each reply to the client. */
export interface RelayedReplies {
  kind: 'relay';
  /**
   * `borg serve` stdout. borg never receives `negotiate`, because the gate replies to it,
   * so the first reply on it is the one to `open`.
   */
  childOut: Readable;
}

/**
 * `borg serve` writes its replies to the client itself, so the gate copies only requests. To
 * reply to a request itself, the gate first ends borg's input and waits until borg has exited:
 * only then can no reply of borg's be half written, so the gate's reply lands between messages.
 */
export interface DirectReplies {
  kind: 'direct';
  /** Resolves once borg has exited for any reason. */
  exited: Promise<unknown>;
  /**
   * Called once after borg's input was ended. Resolves once borg has exited, forcing it in
   * time: true when borg ended by itself, false after a signal, which may have cut a reply.
   */
  stop: () => Promise<boolean>;
}

export interface RelayOptions {
  /** Client requests, positioned after the handshake. */
  clientIn: Readable;
  /** Client replies; the relay never ends it, because it is usually process.stdout. */
  clientOut: Writable;
  /** `borg serve` stdin; the relay ends it when the client is done or breaks the protocol. */
  childIn: Writable;
  replies: RelayedReplies | DirectReplies;
  mode: SessionMode;
  /** Lets read-only sessions run `check` without repair. */
  allowCheck: boolean;
  /** The session's `open` had create=true, so the repository is new (`borg init`). */
  repositoryCreated?: boolean;
  /** The caller has already passed open to borg. */
  afterOpen: true;
  /** Client bytes read after open (Handshake.rest); they pass the filter first. */
  pendingInput?: Buffer;
  /** Stored objects the filter remembers for `delete`; tests lower the default. */
  maxTrackedPuts?: number;
}

export interface SessionStats {
  puts: number;
  gets: number;
  deletes: number;
  /** True once an allowed commit was forwarded to borg. */
  commit: boolean;
  /** Client bytes the relay read, including pendingInput. */
  bytesIn: number;
  /** Bytes written to the client, borg's replies and the gate's; absent when borg wrote them. */
  bytesOut?: number;
  /** Number of refused requests. */
  refusals: number;
  /** First refused method, or "(invalid name)" if it was not an identifier. */
  refusedMethod?: string;
  refusedMsgid?: number;
  /** Short reason if a protocol violation ended the session. */
  protocolError?: string;
  /** True if the client closed its side inside a request; borg never runs such a request. */
  truncated: boolean;
  /** Exception class of the first error reply from borg, such as StorageQuotaExceeded. */
  serverError?: string;
}

const METHOD_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;

/** How long a client may keep sending after a refusal ended borg. A borg client closes at once. */
const CLOSE_AFTER_REFUSAL_MS = 10_000;

/**
 * Relays one borg 1.x session after the handshake. Requests are checked against `mode` and
 * forwarded byte for byte; refused ones get an error reply and never reach borg. Replies pass
 * through unchanged: copied by the gate, or written by borg itself (`replies.kind`). Resolves
 * once borg's output ends (relayed) or borg has exited (direct), or right away after a
 * server-side framing error. After it resolves, the caller should wait briefly for borg to
 * exit and then kill it. A client-side protocol violation ends borg's stdin, so borg exits
 * without running the partial request.
 */
export async function relaySession(options: RelayOptions): Promise<SessionStats> {
  return options.replies.kind === 'relay'
    ? relayReplies(options, options.replies.childOut)
    : relayDirect(options, options.replies);
}

function emptyStats(): SessionStats {
  return {
    puts: 0,
    gets: 0,
    deletes: 0,
    commit: false,
    bytesIn: 0,
    refusals: 0,
    truncated: false,
  };
}

async function relayReplies(options: RelayOptions, childOut: Readable): Promise<SessionStats> {
  const stats = emptyStats();
  const replies = new ReplyChannel(options.clientOut);
  const filter = new RequestFilter(
    options.mode,
    options.allowCheck,
    {
      forward: (bytes) => options.childIn.write(bytes),
      allowed: (method) => countAllowed(stats, method),
      refused: (msgid, method, message) => {
        noteRefusal(stats, msgid, method);
        replies.inject(encodeErrorReply(msgid, REFUSAL_CLASS, message));
      },
      answered: (msgid) => replies.inject(encodeNilResultReply(msgid)),
    },
    options.repositoryCreated ?? false,
    options.maxTrackedPuts,
  );
  // borg may exit while the client still sends; its exit status reports why, so ignore EPIPE here.
  options.childIn.on('error', () => {});
  const stop = new AbortController();
  const upstream = pumpRequests(options, filter, stats, stop.signal)
    .catch((error: unknown) => recordViolation(stats, error))
    .finally(() => options.childIn.end());
  await replies.pump(childOut, stop.signal).catch((error: unknown) => {
    recordViolation(stats, error);
    // Fail closed: without boundaries no further reply can be relayed safely.
    childOut.destroy();
  });
  stop.abort();
  await upstream;
  stats.bytesOut = replies.bytesOut;
  if (replies.serverError !== undefined) stats.serverError = replies.serverError;
  return stats;
}

/**
 * Relays requests while borg writes its replies to the client itself. The first request the gate
 * must reply to itself (a refusal) ends borg's input. Once borg has exited, the gate sends its
 * held replies, then replies to what the client sends next: nil to `rollback`, which every
 * client sends after an error, and a refusal to anything else, until the client closes its side.
 */
async function relayDirect(options: RelayOptions, replies: DirectReplies): Promise<SessionStats> {
  const stats = emptyStats();
  const held = new HeldReplies(options.clientOut);
  let stopped: Promise<unknown> | undefined;
  const endBorg = () => {
    if (stopped !== undefined) return;
    options.childIn.end();
    // After a signal, borg's last reply may be cut short, and nothing could follow it safely.
    stopped = replies.stop().then((byItself) => (byItself ? held.release() : held.drop()));
  };
  const output: FilterOutput = {
    forward: (bytes) => {
      if (stopped === undefined) options.childIn.write(bytes);
    },
    allowed: (method, msgid) => {
      if (stopped === undefined) countAllowed(stats, method);
      else held.add(encodeEndedSessionReply(msgid, method, REFUSAL_CLASS, REFUSAL_MESSAGES.ended));
    },
    refused: (msgid, method, message) => {
      noteRefusal(stats, msgid, method);
      held.add(encodeErrorReply(msgid, REFUSAL_CLASS, message));
      endBorg();
    },
    // The gate replies to nonce calls itself only in a read-only borg check, whose exclusive open
    // makes it relay replies. Any other session that sends them gets the read-only refusal.
    answered: (msgid, method) => {
      noteRefusal(stats, msgid, method);
      held.add(encodeErrorReply(msgid, REFUSAL_CLASS, REFUSAL_MESSAGES.readOnly));
      endBorg();
    },
  };
  const filter = new RequestFilter(
    options.mode,
    options.allowCheck,
    output,
    options.repositoryCreated ?? false,
    options.maxTrackedPuts,
  );
  options.childIn.on('error', () => {});
  const stop = new AbortController();
  const upstream = pumpRequests(options, filter, stats, stop.signal)
    .catch((error: unknown) => recordViolation(stats, error))
    .finally(() => {
      if (stopped === undefined) options.childIn.end();
    });
  await replies.exited;
  if (stopped === undefined) {
    // borg ended the session itself, or the client's input ended and borg finished its work.
    stop.abort();
    await upstream;
    return stats;
  }
  await stopped;
  const timer = setTimeout(() => stop.abort(), CLOSE_AFTER_REFUSAL_MS);
  await upstream;
  clearTimeout(timer);
  return stats;
}

/** The gate's own replies, held back until borg can no longer write to the client. */
class HeldReplies {
  private held: Buffer[] | undefined = [];
  private dropped = false;

  constructor(private readonly output: Writable) {
    // A vanished client raises EPIPE here; its end of the session is already recorded.
    output.on('error', () => {});
  }

  add(reply: Buffer): void {
    if (this.dropped) return;
    if (this.held === undefined) this.output.write(reply);
    else this.held.push(reply);
  }

  release(): void {
    const held = this.held ?? [];
    this.held = undefined;
    for (const reply of held) this.output.write(reply);
  }

  /** Drops every reply, held and later, because the client's stream can take no more. */
  drop(): void {
    this.held = undefined;
    this.dropped = true;
  }
}

function noteRefusal(stats: SessionStats, msgid: number, method: string): void {
  stats.refusals += 1;
  stats.refusedMethod ??= METHOD_NAME.test(method) ? method : '(invalid name)';
  stats.refusedMsgid ??= msgid;
}

function recordViolation(stats: SessionStats, error: unknown): void {
  if (!(error instanceof ProtocolError)) throw error;
  stats.protocolError ??= error.reason;
}

async function pumpRequests(
  options: RelayOptions,
  filter: RequestFilter,
  stats: SessionStats,
  signal: AbortSignal,
): Promise<void> {
  const pending = options.pendingInput;
  if (pending !== undefined && pending.length > 0) {
    stats.bytesIn += pending.length;
    filter.push(pending);
  }
  const onChunk = (chunk: Buffer) => {
    stats.bytesIn += chunk.length;
    filter.push(chunk);
  };
  // The gate writes its own replies to clientOut, so a client that never reads them cannot grow it.
  const outputs = [options.childIn, options.clientOut];
  await pumpChunks(options.clientIn, outputs, onChunk, signal);
  if (!signal.aborted && !filter.atBoundary) stats.truncated = true;
}

function countAllowed(stats: SessionStats, method: string): void {
  if (method === 'put') stats.puts += 1;
  if (method === 'get') stats.gets += 1;
  if (method === 'delete') stats.deletes += 1;
  if (method === 'commit') stats.commit = true;
}
