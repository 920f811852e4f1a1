import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isCanonicalEd25519, parsePublicKey } from '../../../src/lib/authorized-keys/public-key.js';

const HEADER = Buffer.from([0, 0, 0, 11, ...Buffer.from('ssh-ed25519'), 0, 0, 0, 32]);

/** Returns whether the general parser accepts `base64` as an ssh-ed25519 key. */
function parserAccepts(base64: string): boolean {
  try {
    parsePublicKey(`ssh-ed25519 ${base64}`);
    return true;
  } catch {
    return false;
  }
}

/** Checks the blob layout by decoding, as the general path does. */
function isCanonicalBlob(base64: string): boolean {
  const blob = Buffer.from(base64, 'base64');
  return (
    blob.toString('base64') === base64 &&
    blob.length === HEADER.length + 32 &&
    blob.subarray(0, HEADER.length).equals(HEADER)
  );
}

describe('isCanonicalEd25519', () => {
  it('accepts real keys', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), (point) => {
        const base64 = Buffer.concat([HEADER, point]).toString('base64');
        expect(isCanonicalEd25519('ssh-ed25519', base64)).toBe(true);
        expect(parserAccepts(base64)).toBe(true);
      }),
    );
  });

  it('agrees with decoding on edited keys', () => {
    const valid = Buffer.concat([HEADER, Buffer.alloc(32, 7)]).toString('base64');
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=';
    const edit = fc.record({
      at: fc.nat({ max: valid.length }),
      remove: fc.nat({ max: 2 }),
      insert: fc.string({ unit: fc.constantFrom(...alphabet), maxLength: 2 }),
    });
    fc.assert(
      fc.property(edit, ({ at, remove, insert }) => {
        const base64 = valid.slice(0, at) + insert + valid.slice(at + remove);
        const expected = isCanonicalBlob(base64);
        expect(isCanonicalEd25519('ssh-ed25519', base64)).toBe(expected);
        expect(parserAccepts(base64)).toBe(expected);
      }),
      { numRuns: 3000 },
    );
  });

  it.each([
    ['length 33', Buffer.concat([HEADER.subarray(0, 18), Buffer.from([33]), Buffer.alloc(32)])],
    [
      'length 32 plus 256',
      Buffer.concat([HEADER.subarray(0, 17), Buffer.from([1, 32]), Buffer.alloc(32)]),
    ],
    ['trailing byte', Buffer.concat([HEADER, Buffer.alloc(33)])],
  ])('rejects %s', (_name, blob) => {
    expect(isCanonicalEd25519('ssh-ed25519', blob.toString('base64'))).toBe(false);
  });

  it('other type is not Ed25519', () => {
    const base64 = Buffer.concat([HEADER, Buffer.alloc(32)]).toString('base64');
    expect(isCanonicalEd25519('ssh-rsa', base64)).toBe(false);
  });
});
