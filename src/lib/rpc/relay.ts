import type { Readable, Writable } from 'node:stream';
import { ProtocolError } from './errors.js';
import { REFUSAL_CLASS, type SessionMode } from './policy.js';
import { encodeErrorReply, encodeNilResultReply } from './replies.js';
import { ReplyChannel } from './reply-channel.js';
import { RequestFilter } from './request-filter.js';
import { pumpChunks } from './streams.js';

export interface RelayOptions {
  /** Client requests, positioned after the handshake. */
  clientIn: Readable;
  /** Client replies; the relay never ends it, because it is usually process.stdout. */
  clientOut: Writable;
  /** `borg serve` stdin; the relay ends it when the client is done or breaks the protocol. */
  childIn: Writable;
  /** `borg serve` stdout, past borg's own negotiate reply unless `negotiateReplyPending` is set. */
  childOut: Readable;
  /** childOut still starts with borg's reply to the replayed negotiate; the relay drops it. */
  negotiateReplyPending?: boolean;
  mode: SessionMode;
  /** Lets read-only sessions run `check` without repair. */
  allowCheck: boolean;
  /** The session's `open` had create=true, so the repository is new (`borg init`). */
  repositoryCreated?: boolean;
  /** The caller has already replayed negotiate and open to borg. */
  afterOpen: true;
  /** Client bytes read after open (Handshake.rest); they pass the filter first. */
  pendingInput?: Buffer;
}

export interface SessionStats {
  puts: number;
  gets: number;
  deletes: number;
  /** True once an allowed commit was forwarded to borg. */
  commit: boolean;
  /** Client bytes the relay read, including pendingInput. */
  bytesIn: number;
  /** Bytes written to the client: borg's replies and the gate's refusals. */
  bytesOut: number;
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

/**
 * Relays one borg 1.x session after the handshake. Requests are checked against `mode` and
 * forwarded byte for byte; refused ones get an error reply and never reach borg. Replies pass
 * through unchanged. Resolves once borg's output ends, or right away after a server-side framing
 * error. After it resolves, the caller should wait briefly for borg to exit and then kill it.
 * A client-side protocol violation ends borg's stdin, so borg exits without running the
 * partial request.
 */
export async function relaySession(options: RelayOptions): Promise<SessionStats> {
  const stats: SessionStats = {
    puts: 0,
    gets: 0,
    deletes: 0,
    commit: false,
    bytesIn: 0,
    bytesOut: 0,
    refusals: 0,
    truncated: false,
  };
  const replies = new ReplyChannel(options.clientOut, {
    negotiateReplyPending: options.negotiateReplyPending,
  });
  const filter = new RequestFilter(
    options.mode,
    options.allowCheck,
    {
      forward: (bytes) => options.childIn.write(bytes),
      allowed: (method) => countAllowed(stats, method),
      refused: (msgid, method, message) => {
        stats.refusals += 1;
        stats.refusedMethod ??= METHOD_NAME.test(method) ? method : '(invalid name)';
        stats.refusedMsgid ??= msgid;
        replies.inject(encodeErrorReply(msgid, REFUSAL_CLASS, message));
      },
      answered: (msgid) => replies.inject(encodeNilResultReply(msgid)),
    },
    options.repositoryCreated ?? false,
  );
  // borg may exit while the client still sends; its exit status reports why, so ignore EPIPE here.
  options.childIn.on('error', () => {});
  const stop = new AbortController();
  const recordViolation = (error: unknown) => {
    if (!(error instanceof ProtocolError)) throw error;
    stats.protocolError ??= error.reason;
  };

  const upstream = pumpRequests(options, filter, stats, stop.signal)
    .catch(recordViolation)
    .finally(() => options.childIn.end());
  await replies.pump(options.childOut, stop.signal).catch((error: unknown) => {
    recordViolation(error);
    // Fail closed: without boundaries no further reply can be relayed safely.
    options.childOut.destroy();
  });
  stop.abort();
  await upstream;
  stats.bytesOut = replies.bytesOut;
  if (replies.serverError !== undefined) stats.serverError = replies.serverError;
  return stats;
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
