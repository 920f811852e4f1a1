import type { Readable } from 'node:stream';

/**
 * Pulls chunks from a Readable one at a time and gives the stream back untouched when released,
 * so a caller can read a prefix (the handshake) and then pipe the rest elsewhere.
 */
export class ChunkReader {
  private readonly chunks: AsyncIterator<Buffer>;

  constructor(input: Readable) {
    // destroyOnReturn false: release() detaches without destroying the caller's stream.
    this.chunks = input.iterator({ destroyOnReturn: false }) as AsyncIterator<Buffer>;
  }

  /** Resolves with the next chunk, or undefined at end of stream. */
  async next(): Promise<Buffer | undefined> {
    const result = await this.chunks.next();
    return result.done === true ? undefined : result.value;
  }

  /** Detaches from the stream; call it only while no next() is pending. */
  async release(): Promise<void> {
    await this.chunks.return?.();
  }
}
