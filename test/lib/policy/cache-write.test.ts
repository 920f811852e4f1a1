import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { writeAtomically } from '../../../src/lib/policy/cache-write.js';

let dir: string;

beforeEach(() => {
  dir = mkdtempSync('/tmp/borg-gate-cache-write-');
});

afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('writeAtomically', () => {
  it('writes parts in order', () => {
    const file = join(dir, 'out');
    writeAtomically(file, [Buffer.from('head\n'), Buffer.alloc(0), Buffer.from('body\n')], 0o600);
    expect(readFileSync(file, 'utf8')).toBe('head\nbody\n');
    expect(readdirSync(dir)).toEqual(['out']);
  });

  it('writes more parts than one writev takes', () => {
    // writev(2) takes at most 1024 buffers on Linux, so these need several system calls.
    const parts = Array.from({ length: 3000 }, (_, index) => Buffer.from(`${index}\n`));
    const file = join(dir, 'out');
    writeAtomically(file, parts, 0o600);
    expect(readFileSync(file)).toEqual(Buffer.concat(parts));
  });

  it('sets the mode despite the umask', () => {
    const file = join(dir, 'out');
    const previous = process.umask(0o077);
    try {
      writeAtomically(file, [Buffer.from('x')], 0o644);
    } finally {
      process.umask(previous);
    }
    expect(statSync(file).mode & 0o777).toBe(0o644);
  });
});
