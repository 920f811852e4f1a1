// Test data: small source trees and large incompressible files.
import { randomBytes } from 'node:crypto';
import { closeSync, mkdirSync, openSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';

/** Writes `count` files of `size` random bytes under `dir` and returns `dir`. */
export function makeSourceTree(dir, count, size) {
  mkdirSync(dir, { recursive: true });
  for (let index = 0; index < count; index += 1) {
    writeFileSync(join(dir, `file-${index}`), randomBytes(size));
  }
  return dir;
}

/** Writes `bytes` random bytes to `file`: incompressible, and not deduplicated against itself. */
export function writeRandomFile(file, bytes) {
  const block = 8 * 1024 * 1024;
  const fd = openSync(file, 'w');
  try {
    for (let written = 0; written < bytes; written += block) {
      const buffer = randomBytes(Math.min(block, bytes - written));
      let offset = 0;
      while (offset < buffer.length) {
        offset += writeSync(fd, buffer, offset);
      }
    }
  } finally {
    closeSync(fd);
  }
}

const UNITS = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 };

/** Parses a size such as 1G, 64M or 4096 into bytes (powers of 1024); undefined if invalid. */
export function parseSize(text) {
  const match = /^([0-9]+)([KMG]?)i?B?$/i.exec(text);
  if (match === null) {
    return undefined;
  }
  const bytes = Number(match[1]) * UNITS[match[2].toUpperCase()];
  return bytes > 0 ? bytes : undefined;
}

export function formatSize(bytes) {
  if (bytes % 1024 ** 3 === 0) {
    return `${bytes / 1024 ** 3} GiB`;
  }
  if (bytes % 1024 ** 2 === 0) {
    return `${bytes / 1024 ** 2} MiB`;
  }
  return `${bytes} bytes`;
}
