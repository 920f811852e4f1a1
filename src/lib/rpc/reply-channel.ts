import type { Readable, Writable } from 'node:stream';
import { ProtocolError } from './errors.js';
import { Framer, REPLY_LIMITS } from './framer.js';
import { pumpChunks } from './streams.js';
import { NegotiateReplyCheck } from './swallow.js';

export interface ReplyChannelOptions {
  /** The server output still starts with borg's reply to the replayed negotiate; drop it. */
  negotiateReplyPending?: boolean;
}

/**
 * Copies `borg serve` replies to the client unchanged and inserts the gate's own replies between
 * them. A reply must not land inside another message, so the channel tracks message boundaries
 * in the bytes already written and queues an injected reply until the next boundary.
 */
export class ReplyChannel {
  bytesOut = 0;
  private atBoundary = true;
  private queue: Buffer[] = [];
  private failed = false;
  private negotiateReply: NegotiateReplyCheck | undefined;
  /** Bytes of the chunk being relayed, written together once the whole chunk is scanned. */
  private batch: Buffer[] = [];

  constructor(
    private readonly output: Writable,
    options: ReplyChannelOptions = {},
  ) {
    if (options.negotiateReplyPending === true) this.negotiateReply = new NegotiateReplyCheck();
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
      if (!(error instanceof ProtocolError) || this.negotiateReply !== undefined) throw error;
      throw new ProtocolError(`server ${error.reason}`, { cause: error });
    } finally {
      const batch = this.batch;
      this.batch = [];
      this.write(batch);
    }
  }

  private take(bytes: Buffer): void {
    if (this.negotiateReply !== undefined) {
      this.negotiateReply.add(bytes);
      return;
    }
    this.atBoundary = false;
    this.batch.push(bytes);
  }

  private endMessage(): void {
    if (this.negotiateReply !== undefined) {
      this.negotiateReply.finish();
      this.negotiateReply = undefined;
      return;
    }
    this.atBoundary = true;
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
