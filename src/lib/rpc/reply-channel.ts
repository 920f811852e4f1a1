import type { Readable, Writable } from 'node:stream';
import { decode } from '@msgpack/msgpack';
import { ProtocolError } from './errors.js';
import { Framer, REPLY_LIMITS } from './framer.js';
import { pumpChunks } from './streams.js';

const MAX_ERROR_REPLY_BYTES = 64 * 1024;
const EXCEPTION_CLASS = /^[A-Za-z_][A-Za-z0-9_.]{0,127}$/;

/**
 * Copies `borg serve` replies to the client unchanged and inserts the gate's own replies between
 * them. A reply must not land inside another message, so the channel tracks message boundaries
 * in the bytes already written and queues an injected reply until the next boundary.
 */
export class ReplyChannel {
  bytesOut = 0;
  /** Exception class of the first error reply from `borg serve`, for the audit log. */
  serverError: string | undefined;
  /** Bytes of the current reply while it may still be a small error reply. */
  private replyHead: Buffer[] | undefined;
  private replyHeadBytes = 0;
  private atBoundary = true;
  private queue: Buffer[] = [];
  private failed = false;
  /** Bytes of the chunk being relayed, written together once the whole chunk is scanned. */
  private batch: Buffer[] = [];

  constructor(private readonly output: Writable) {
    // A vanished client raises EPIPE here; without a listener that would crash the gate.
    output.on('error', () => {
      this.failed = true;
    });
    output.on('close', () => {
      this.failed = true;
    });
  }

  /** Sends `reply` now if the client stream is between messages, else after the current one. */
  inject(reply: Buffer): void {
    if (this.atBoundary) this.write([reply]);
    else this.queue.push(reply);
  }

  /**
   * Copies `input` to the client until it ends or `signal` aborts, with backpressure. Throws
   * ProtocolError if the server output breaks msgpack framing, because later boundaries are lost.
   */
  async pump(input: Readable, signal: AbortSignal): Promise<void> {
    const framer = new Framer(REPLY_LIMITS);
    await pumpChunks(input, [this.output], (chunk) => this.relay(framer, chunk), signal);
  }

  private relay(framer: Framer, chunk: Buffer): void {
    // Once the client is gone, keep reading so borg can finish, see EOF and release its lock.
    if (this.failed) return;
    try {
      for (const event of framer.push(chunk)) {
        if (event.type === 'bytes') this.take(event.data);
        else if (event.type === 'end') this.endMessage();
      }
    } catch (error) {
      if (!(error instanceof ProtocolError)) throw error;
      throw new ProtocolError(`server ${error.reason}`, { cause: error });
    } finally {
      const batch = this.batch;
      this.batch = [];
      this.write(batch);
    }
  }

  private take(bytes: Buffer): void {
    if (this.atBoundary) this.startReply(bytes);
    else if (this.replyHead !== undefined) this.addReplyBytes(bytes);
    this.atBoundary = false;
    this.batch.push(bytes);
  }

  /**
   * Starts keeping a reply's bytes unless it is a result. borg 1.2 packs every result as
   * `{i, r}`, a fixmap of two (0x82), and every error reply as a map of seven keys. borg writes
   * that first byte itself and the client cannot choose it, so it separates the two kinds.
   */
  private startReply(bytes: Buffer): void {
    if (this.serverError !== undefined || bytes[0] === 0x82) return;
    this.replyHead = [];
    this.replyHeadBytes = 0;
    this.addReplyBytes(bytes);
  }

  private addReplyBytes(bytes: Buffer): void {
    this.replyHeadBytes += bytes.length;
    // Error replies carry a traceback of a few KiB, so a longer message is not read.
    if (this.replyHeadBytes > MAX_ERROR_REPLY_BYTES) this.replyHead = undefined;
    else this.replyHead?.push(bytes);
  }

  private recordServerError(): void {
    const head = this.replyHead;
    this.replyHead = undefined;
    if (head === undefined) return;
    try {
      const reply = decode(Buffer.concat(head), { rawStrings: true }) as Record<string, unknown>;
      const name = reply.exception_class;
      if (!(name instanceof Uint8Array)) return;
      const text = Buffer.from(name).toString('latin1');
      this.serverError = EXCEPTION_CLASS.test(text) ? text : '(invalid name)';
    } catch {
      // The framer already checked the message; a reply that still fails to decode is not an error reply.
    }
  }

  private endMessage(): void {
    this.atBoundary = true;
    this.recordServerError();
    this.batch.push(...this.queue.splice(0));
  }

  /** Writes `parts` in one system call where the stream allows it. */
  private write(parts: Buffer[]): void {
    if (this.failed || parts.length === 0) return;
    if (parts.length > 1) this.output.cork();
    for (const part of parts) {
      this.bytesOut += part.length;
      this.output.write(part);
    }
    if (parts.length > 1) this.output.uncork();
  }
}
