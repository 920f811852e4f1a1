import { PassThrough, Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { pumpChunks } from '../../../src/lib/rpc/streams.js';

/** Creates a Writable that completes each write only when the test calls `release`. */
function heldWritable(highWaterMark: number) {
  const callbacks: (() => void)[] = [];
  const output = new Writable({
    highWaterMark,
    write(_chunk, _encoding, callback) {
      callbacks.push(callback);
    },
  });
  const release = () => {
    for (const callback of callbacks.splice(0)) callback();
  };
  return { output, release };
}

const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

describe('pumpChunks', () => {
  it('pauses on a full output', async () => {
    const input = new PassThrough();
    const { output } = heldWritable(512);
    const seen: number[] = [];
    const stop = new AbortController();
    const pump = pumpChunks(
      input,
      [output],
      (chunk) => {
        seen.push(chunk.length);
        output.write(chunk);
      },
      stop.signal,
      1024,
    );
    for (let index = 0; index < 10; index += 1) input.write(Buffer.alloc(512));
    await nextTurn();
    expect(seen).toHaveLength(3);
    expect(input.isPaused()).toBe(true);
    stop.abort();
    await pump;
  });

  it('resumes after drain', async () => {
    const input = new PassThrough();
    const { output, release } = heldWritable(512);
    let seen = 0;
    const pump = pumpChunks(
      input,
      [output],
      (chunk) => {
        seen += 1;
        output.write(chunk);
      },
      new AbortController().signal,
      1024,
    );
    for (let index = 0; index < 10; index += 1) input.write(Buffer.alloc(512));
    input.end();
    for (let turn = 0; turn < 20 && seen < 10; turn += 1) {
      await nextTurn();
      release();
    }
    await pump;
    expect(seen).toBe(10);
  });

  it('pauses on any full output', async () => {
    const input = new PassThrough();
    const idle = heldWritable(512);
    const full = heldWritable(512);
    let seen = 0;
    const stop = new AbortController();
    const pump = pumpChunks(
      input,
      [idle.output, full.output],
      (chunk) => {
        seen += 1;
        full.output.write(chunk);
      },
      stop.signal,
      1024,
    );
    for (let index = 0; index < 10; index += 1) input.write(Buffer.alloc(512));
    await nextTurn();
    expect(seen).toBe(3);
    stop.abort();
    await pump;
  });

  it('rejects with the error of onChunk', async () => {
    const input = new PassThrough();
    const { output } = heldWritable(512);
    const pump = pumpChunks(
      input,
      [output],
      () => {
        throw new Error('bad chunk');
      },
      new AbortController().signal,
    );
    input.write(Buffer.from('x'));
    await expect(pump).rejects.toThrow('bad chunk');
    expect(input.isPaused()).toBe(true);
  });

  it('resolves at end of input', async () => {
    const input = new PassThrough();
    const { output } = heldWritable(512);
    const chunks: Buffer[] = [];
    const pump = pumpChunks(
      input,
      [output],
      (chunk) => chunks.push(chunk),
      new AbortController().signal,
    );
    input.end(Buffer.from('abc'));
    await pump;
    expect(Buffer.concat(chunks).toString()).toBe('abc');
  });
});
