import { createReadStream } from 'node:fs';
import { createGunzip } from 'node:zlib';
import { AuditLogError, errorCode } from './errors.js';

/** Decoded whole lines of one log file. */
export interface LogTextChunk {
  file: string;
  /** One or more lines joined by `\n`, without the newline after the last one. */
  text: string;
  /** False when `text` is the last line of a file that ends without a newline. */
  complete: boolean;
}

/**
 * Target size of one decoded chunk. V8 puts strings above about 128 KiB in its large-object
 * space, one mapping each: decoding 1 MiB pieces of a 660 MB log cost 0.5 s of system time
 * on Node 20, 64 KiB pieces 0.1 s.
 */
const TEXT_CHUNK_BYTES = 64 * 1024;

/**
 * Streams the lines of one file as decoded text chunks, decompressing `.gz` files, with
 * flat memory use. A chunk is cut only after a newline byte, so it never splits a line
 * or a UTF-8 character, and its text splits on `\n` into the same lines as the file.
 */
export async function* readLogTextChunks(file: string): AsyncGenerator<LogTextChunk> {
  const raw = createReadStream(file, { highWaterMark: 1024 * 1024 });
  const stream = file.endsWith('.gz') ? raw.pipe(createGunzip({ chunkSize: 1024 * 1024 })) : raw;
  raw.on('error', (error) => stream.destroy(error));
  // Bytes after the last newline seen so far: the start of a line that continues.
  let pending: Buffer[] = [];
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      let start = 0;
      if (pending.length > 0) {
        const firstNewline = chunk.indexOf(10);
        if (firstNewline === -1) {
          pending.push(chunk);
          continue;
        }
        pending.push(chunk.subarray(0, firstNewline));
        yield { file, text: Buffer.concat(pending).toString('utf8'), complete: true };
        pending = [];
        start = firstNewline + 1;
      }
      const lastNewline = chunk.lastIndexOf(10);
      if (lastNewline < start) {
        if (start < chunk.length) {
          pending.push(chunk.subarray(start));
        }
        continue;
      }
      yield* decodeLines(file, chunk, start, lastNewline);
      if (lastNewline + 1 < chunk.length) {
        pending.push(chunk.subarray(lastNewline + 1));
      }
    }
  } catch (error) {
    throw new AuditLogError(
      file,
      `failed to read (${errorCode(error) ?? String(error)}): check the file`,
      { cause: error },
    );
  } finally {
    raw.destroy();
  }
  if (pending.length > 0) {
    yield { file, text: Buffer.concat(pending).toString('utf8'), complete: false };
  }
}

/** Decodes the lines in `bytes[start, end)`, where `end` is a newline, in pieces of about 64 KiB. */
function* decodeLines(
  file: string,
  bytes: Buffer,
  start: number,
  end: number,
): Generator<LogTextChunk> {
  let from = start;
  while (from <= end) {
    let cut = end;
    if (end - from > TEXT_CHUNK_BYTES) {
      cut = bytes.lastIndexOf(10, from + TEXT_CHUNK_BYTES);
      if (cut < from) {
        // One line longer than a piece: cut after it.
        cut = bytes.indexOf(10, from + TEXT_CHUNK_BYTES);
      }
    }
    yield { file, text: bytes.toString('utf8', from, cut), complete: true };
    from = cut + 1;
  }
}
