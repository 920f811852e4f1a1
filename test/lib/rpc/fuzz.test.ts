import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeRequest } from '../../../src/lib/rpc/decode.js';
import { Framer, REQUEST_LIMITS } from '../../../src/lib/rpc/framer.js';
import { REFUSAL_MESSAGES, ruleFor, type SessionMode } from '../../../src/lib/rpc/policy.js';
import { runFilter } from './fixtures/filter-run.js';
import { type Packable, request } from './fixtures/pack.js';

const MODES: SessionMode[] = ['read-only', 'append-only', 'read-write'];
const METHODS = [
  'get',
  'put',
  'delete',
  'commit',
  'check',
  'list',
  'destroy',
  'open',
  'rollback',
  'save_key',
];

/** Splits forwarded bytes into complete messages plus an incomplete tail. */
function splitMessages(bytes: Buffer): { messages: Buffer[]; tail: number } {
  const framer = new Framer(REQUEST_LIMITS);
  const messages: Buffer[] = [];
  let current: Buffer[] = [];
  for (const event of framer.push(bytes)) {
    if (event.type === 'bytes') current.push(event.data);
    if (event.type === 'end') {
      messages.push(Buffer.concat(current));
      current = [];
    }
  }
  return { messages, tail: Buffer.concat(current).length };
}

/** Cuts `bytes` at the given offsets. */
function chunk(bytes: Buffer, cuts: number[]): Buffer[] {
  const offsets = [...new Set(cuts.map((cut) => cut % (bytes.length + 1)))].sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let start = 0;
  for (const offset of [...offsets, bytes.length]) {
    chunks.push(bytes.subarray(start, offset));
    start = offset;
  }
  return chunks;
}

/** Checks that every forwarded complete message is a decodable request the mode can allow. */
function expectOnlyCheckedForwarded(mode: SessionMode, chunks: Buffer[]): void {
  const run = runFilter(mode, chunks);
  const { messages, tail } = splitMessages(run.forwarded);
  expect(messages.length).toBe(run.allowed.length);
  for (const message of messages) {
    const decoded = decodeRequest(message);
    expect(ruleFor(mode, decoded.method).action).not.toBe('refuse');
  }
  // Only a streamed put may stop half-way, and only because of a violation or the end of input.
  if (tail > 0) expect(run.error !== undefined || !run.atBoundary).toBe(true);
  for (const refusal of run.refused) {
    expect(Object.values(REFUSAL_MESSAGES)).toContain(refusal.message);
  }
}

const scalar: fc.Arbitrary<Packable> = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.integer({ min: -1000, max: 1_000_000 }),
  fc.uint8Array({ maxLength: 40 }).map((bytes) => Buffer.from(bytes)),
);
const args = fc.dictionary(
  fc.constantFrom('id', 'data', 'repair', 'compact', 'path', 'limit'),
  scalar,
  {
    maxKeys: 4,
  },
);
const validRequest = fc
  .tuple(fc.nat(1000), fc.constantFrom(...METHODS), args)
  .map(([msgid, method, values]) => request(msgid, method, values));

describe('RequestFilter fuzzing', () => {
  it('random bytes', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...MODES),
        fc.uint8Array({ maxLength: 300 }),
        fc.array(fc.nat(), { maxLength: 5 }),
        (mode, bytes, cuts) => {
          expectOnlyCheckedForwarded(mode, chunk(Buffer.from(bytes), cuts));
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('mutated valid requests', () => {
    const mutation = fc.record({
      at: fc.nat(),
      kind: fc.constantFrom('flip', 'insert', 'remove', 'none'),
      byte: fc.integer({ min: 0, max: 255 }),
    });
    fc.assert(
      fc.property(
        fc.constantFrom(...MODES),
        fc.array(validRequest, { minLength: 1, maxLength: 4 }),
        fc.array(mutation, { maxLength: 3 }),
        fc.array(fc.nat(), { maxLength: 5 }),
        (mode, requests, mutations, cuts) => {
          let bytes = Buffer.concat(requests);
          for (const { at, kind, byte } of mutations) {
            const position = at % (bytes.length + 1);
            const before = bytes.subarray(0, position);
            if (kind === 'flip')
              bytes = Buffer.concat([before, Buffer.from([byte]), bytes.subarray(position + 1)]);
            if (kind === 'insert')
              bytes = Buffer.concat([before, Buffer.from([byte]), bytes.subarray(position)]);
            if (kind === 'remove') bytes = Buffer.concat([before, bytes.subarray(position + 1)]);
          }
          expectOnlyCheckedForwarded(mode, chunk(bytes, cuts));
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('valid requests split anywhere', () => {
    fc.assert(
      fc.property(
        fc.array(validRequest, { minLength: 1, maxLength: 4 }),
        fc.array(fc.nat(), { maxLength: 8 }),
        (requests, cuts) => {
          const bytes = Buffer.concat(requests);
          const whole = runFilter('read-write', [bytes]);
          const split = runFilter('read-write', chunk(bytes, cuts));
          expect(split).toEqual(whole);
        },
      ),
      { numRuns: 500 },
    );
  });
});
