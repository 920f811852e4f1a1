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

/** Raised by readChunks when the input exceeds its byte limit. */
export class InputLimitExceeded extends Error {
  override readonly name = 'InputLimitExceeded';
}

/**
 * Yields chunks of `input` until end of stream or until `signal` aborts, even while a read is
 * pending. Throws InputLimitExceeded once more than `maxBytes` arrived. Never destroys `input`.
 */
export async function* readChunks(
  input: Readable,
  signal: AbortSignal,
  maxBytes = Number.POSITIVE_INFINITY,
): AsyncGenerator<Buffer> {
  const chunks = input.iterator({ destroyOnReturn: false }) as AsyncIterator<Buffer>;
  const aborted = new Promise<IteratorResult<Buffer>>((resolve) => {
    const stop = () => resolve({ done: true, value: undefined });
    if (signal.aborted) stop();
    else signal.addEventListener('abort', stop, { once: true });
  });
  let total = 0;
  try {
    while (!signal.aborted) {
      const next = await Promise.race([chunks.next(), aborted]);
      if (next.done === true) return;
      total += next.value.length;
      if (total > maxBytes) throw new InputLimitExceeded(`input exceeded ${maxBytes} bytes`);
      yield next.value;
    }
  } finally {
    // A read may still be pending after an abort; detaching then happens once it settles.
    void chunks.return?.();
  }
}
