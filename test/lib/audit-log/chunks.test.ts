import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { readLogTextChunks } from '../../../src/lib/audit-log/chunks.js';

const root = mkdtempSync(join(tmpdir(), 'borg-gate-chunks-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let counter = 0;

/** Reads a file through readLogTextChunks and returns its lines with their `complete` flag. */
async function readLines(bytes: Buffer, gzip = false) {
  const file = join(root, `case-${counter++}.log${gzip ? '.gz' : ''}`);
  writeFileSync(file, gzip ? gzipSync(bytes) : bytes);
  const lines: Array<{ text: string; complete: boolean }> = [];
  for await (const chunk of readLogTextChunks(file)) {
    for (const text of chunk.text.split('\n')) {
      lines.push({ text, complete: chunk.complete });
    }
  }
  return lines;
}

/** The lines a reader must return: the file decoded, then split on newlines. */
function expectedLines(bytes: Buffer) {
  const text = bytes.toString('utf8');
  if (text === '') {
    return [];
  }
  const pieces = text.split('\n');
  const last = pieces.pop()!;
  const lines = pieces.map((piece) => ({ text: piece, complete: true }));
  if (last !== '') {
    lines.push({ text: last, complete: false });
  }
  return lines;
}

describe('readLogTextChunks', () => {
  it.each([
    ['empty file', ''],
    ['one line', 'a\n'],
    ['no final newline', 'a\nb'],
    ['empty lines', '\n\na\n\n'],
    ['carriage returns', 'a\r\nb\r\n'],
    ['multibyte characters', 'é€😀\n😀\n'],
  ])('%s', async (_name, text) => {
    const bytes = Buffer.from(text, 'utf8');

    expect(await readLines(bytes)).toEqual(expectedLines(bytes));
    expect(await readLines(bytes, true)).toEqual(expectedLines(bytes));
  });

  it('splits large files at line ends', async () => {
    // Lines of up to 400 KB with multibyte characters, so reads of 1 MiB and pieces of
    // 64 KiB end inside lines and inside characters.
    const lines: string[] = [];
    for (let index = 0; lines.join('\n').length < 3 * 1024 * 1024; index++) {
      lines.push(`${index}:${'é€😀x'.repeat((index * 7919) % 40_000)}`);
    }
    const bytes = Buffer.from(`${lines.join('\n')}\n`, 'utf8');

    expect(await readLines(bytes)).toEqual(expectedLines(bytes));
    expect(await readLines(bytes, true)).toEqual(expectedLines(bytes));
  });

  it('matches split on random bytes', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 300 }), fc.boolean(), async (array, gzip) => {
        const bytes = Buffer.from(array.map((byte) => (byte % 5 === 0 ? 10 : byte)));
        expect(await readLines(bytes, gzip)).toEqual(expectedLines(bytes));
      }),
      { numRuns: 100 },
    );
  });
});
