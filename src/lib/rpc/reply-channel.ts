import type { Readable, Writable } from 'node:stream';
import { readChunks } from './chunks.js';
import { ProtocolError } from './errors.js';
import { Framer, REPLY_LIMITS } from './framer.js';
import { waitForDrain } from './streams.js';

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
    if (this.atBoundary) this.write(reply);
    else this.queue.push(reply);
  }

  /**
   * Copies `input` to the client until it ends or `signal` aborts, with backpressure. Throws
   * ProtocolError if the server output breaks msgpack framing, because later boundaries are lost.
   */
  async pump(input: Readable, signal: AbortSignal): Promise<void> {
    const framer = new Framer(REPLY_LIMITS);
    for await (const chunk of readChunks(input, signal)) {
      // Once the client is gone, keep reading so borg can finish, see EOF and release its lock.
      if (this.failed) continue;
      try {
        for (const event of framer.push(chunk)) {
          if (event.type === 'bytes') {
            this.atBoundary = false;
            this.write(event.data);
          } else if (event.type === 'end') {
            this.atBoundary = true;
            for (const reply of this.queue.splice(0)) this.write(reply);
          }
        }
      } catch (error) {
        if (!(error instanceof ProtocolError)) throw error;
        throw new ProtocolError(`server ${error.reason}`, { cause: error });
      }
      await waitForDrain(this.output);
    }
  }

  private write(bytes: Buffer): void {
    if (this.failed) return;
    this.bytesOut += bytes.length;
    this.output.write(bytes);
  }
}
