import { describe, expect, it } from 'vitest';
import { REFUSAL_MESSAGES, type SessionMode } from '../../../src/lib/rpc/policy.js';
import { runFilter } from './fixtures/filter-run.js';
import { type Packable, pack, request } from './fixtures/pack.js';

const id = (byte: number) => Buffer.alloc(32, byte);
const big = Buffer.alloc(200_000, 0x55);

type Case = [string, SessionMode, Buffer, 'forward' | string];

describe('RequestFilter verdicts', () => {
  it.each<Case>([
    ['get', 'read-only', request(3, 'get', { id: id(1) }), 'forward'],
    ['list', 'read-only', request(3, 'list', { limit: 100, marker: null }), 'forward'],
    ['rollback', 'read-only', request(3, 'rollback'), 'forward'],
    [
      'small put',
      'read-only',
      request(3, 'put', { id: id(1), data: 'x' }),
      REFUSAL_MESSAGES.readOnly,
    ],
    [
      'big put',
      'read-only',
      request(3, 'put', { id: id(1), data: big }),
      REFUSAL_MESSAGES.readOnly,
    ],
    ['delete', 'read-only', request(3, 'delete', { id: id(1) }), REFUSAL_MESSAGES.readOnly],
    ['commit', 'read-only', request(3, 'commit', { compact: false }), REFUSAL_MESSAGES.readOnly],
    ['save_key', 'read-only', request(3, 'save_key', { keydata: 'k' }), REFUSAL_MESSAGES.readOnly],
    ['break_lock', 'read-only', request(3, 'break_lock'), REFUSAL_MESSAGES.readOnly],
    ['destroy', 'read-only', request(3, 'destroy'), REFUSAL_MESSAGES.readOnly],
    [
      'inject_exception',
      'read-only',
      request(3, 'inject_exception', { kind: 'x' }),
      REFUSAL_MESSAGES.method,
    ],
    ['unknown', 'read-only', request(3, 'constructor'), REFUSAL_MESSAGES.method],
    ['second open', 'read-only', request(3, 'open', { path: '/r' }), REFUSAL_MESSAGES.secondOpen],
    ['check', 'read-only', request(3, 'check', { repair: false }), 'forward'],
    ['check repair', 'read-only', request(3, 'check', { repair: true }), REFUSAL_MESSAGES.readOnly],
    ['check repair 1', 'read-only', request(3, 'check', { repair: 1 }), REFUSAL_MESSAGES.readOnly],
    ['append put', 'append-only', request(3, 'put', { id: id(1), data: big }), 'forward'],
    [
      'append foreign delete',
      'append-only',
      request(3, 'delete', { id: id(9) }),
      REFUSAL_MESSAGES.delete,
    ],
    ['append commit', 'append-only', request(3, 'commit', { compact: false }), 'forward'],
    [
      'append compact',
      'append-only',
      request(3, 'commit', { compact: true }),
      REFUSAL_MESSAGES.compact,
    ],
    ['append default compact', 'append-only', request(3, 'commit'), REFUSAL_MESSAGES.compact],
    ['append destroy', 'append-only', request(3, 'destroy'), REFUSAL_MESSAGES.destroy],
    [
      'append save_key',
      'append-only',
      request(3, 'save_key', { keydata: 'k' }),
      REFUSAL_MESSAGES.saveKey,
    ],
    ['append break_lock', 'append-only', request(3, 'break_lock'), REFUSAL_MESSAGES.breakLock],
    [
      'append repair',
      'append-only',
      request(3, 'check', { repair: true }),
      REFUSAL_MESSAGES.repair,
    ],
    ['append unknown', 'append-only', request(3, 'nope'), REFUSAL_MESSAGES.method],
    ['rw destroy', 'read-write', request(3, 'destroy'), 'forward'],
    ['rw delete', 'read-write', request(3, 'delete', { id: id(9) }), 'forward'],
    [
      'rw second open',
      'read-write',
      request(3, 'open', { path: '/r' }),
      REFUSAL_MESSAGES.secondOpen,
    ],
    [
      'rw inject_exception',
      'read-write',
      request(3, 'inject_exception', { kind: 'x' }),
      REFUSAL_MESSAGES.method,
    ],
  ])('%s in %s', (_name, mode, bytes, expected) => {
    const run = runFilter(mode, [bytes.subarray(0, 10), bytes.subarray(10)]);
    expect(run.error).toBeUndefined();
    if (expected === 'forward') {
      expect(run.forwarded).toEqual(bytes);
      expect(run.refused).toEqual([]);
    } else {
      expect(run.forwarded.length).toBe(0);
      expect(run.refused).toEqual([{ msgid: 3, method: expect.any(String), message: expected }]);
    }
  });

  it('answers nonce calls for check', () => {
    const bytes = Buffer.concat([
      request(3, 'get_free_nonce'),
      request(4, 'commit_nonce_reservation', { next_unreserved: 9, start_nonce: 1 }),
    ]);
    expect(runFilter('read-only', [bytes]).answered).toEqual([3, 4]);
    expect(runFilter('read-only', [bytes], false).refused).toHaveLength(2);
  });

  it('reads a str8 method name like fixstr', () => {
    // d9 03 "put" is the same method as a3 "put" for borg.
    const bytes = Buffer.concat([
      Buffer.from([0x83, 0xa1, 0x69, 3, 0xa1, 0x6d, 0xd9, 3]),
      Buffer.from('put'),
      pack('a'),
      pack({ id: id(1), data: 'x' }),
    ]);
    const run = runFilter('read-only', [bytes]);
    expect(run.refused).toEqual([{ msgid: 3, method: 'put', message: REFUSAL_MESSAGES.readOnly }]);
    expect(run.forwarded.length).toBe(0);
  });

  it('refuses check without allowCheck', () => {
    const run = runFilter('read-only', [request(3, 'check', { repair: false })], false);
    expect(run.refused[0]?.message).toBe(REFUSAL_MESSAGES.check);
  });

  it('allows deleting own puts', () => {
    const put = request(3, 'put', { id: id(7), data: big });
    const smallPut = request(4, 'put', { id: id(8), data: 'x' });
    const deletes = [request(5, 'delete', { id: id(7) }), request(6, 'delete', { id: id(8) })];
    const run = runFilter('append-only', [put, smallPut, ...deletes]);
    expect(run.forwarded).toEqual(Buffer.concat([put, smallPut, ...deletes]));
    expect(run.allowed).toEqual(['put', 'put', 'delete', 'delete']);
  });

  it('allows deleting a checkpoint archive past the tracking limit', () => {
    // borg puts each checkpoint archive right before the manifest, and deletes it at the next
    // checkpoint. With room for one tracked put, only that order keeps the delete allowed.
    const chunk = request(3, 'put', { id: id(5), data: 'x' });
    const archive = request(4, 'put', { id: id(6), data: 'x' });
    const manifest = request(5, 'put', { id: id(0), data: 'x' });
    const run = runFilter(
      'append-only',
      [
        chunk,
        archive,
        manifest,
        request(6, 'delete', { id: id(6) }),
        request(7, 'delete', { id: id(4) }),
      ],
      true,
      1,
    );
    expect(run.allowed).toEqual(['put', 'put', 'put', 'delete']);
    expect(run.refused.map((refusal) => refusal.msgid)).toEqual([7]);
  });

  it('refuses deleting an untracked put past the limit', () => {
    const puts = [
      request(3, 'put', { id: id(5), data: 'x' }),
      request(4, 'put', { id: id(6), data: 'x' }),
    ];
    const run = runFilter('append-only', [...puts, request(5, 'delete', { id: id(6) })], true, 1);
    expect(run.refused[0]?.message).toBe(REFUSAL_MESSAGES.delete);
  });

  it('refuses deleting the manifest after putting it', () => {
    // put(manifest) is normal for every backup; deleting it afterwards would hide every archive.
    const put = request(3, 'put', { id: id(0), data: 'x' });
    const remove = request(4, 'delete', { id: id(0) });
    const run = runFilter('append-only', [put, remove]);
    expect(run.forwarded).toEqual(put);
    expect(run.refused[0]?.message).toBe(REFUSAL_MESSAGES.delete);
  });
});

describe('RequestFilter protocol violations', () => {
  const raw = (parts: Packable[]) => Buffer.concat(parts.map((part) => pack(part)));
  // {i: 3, m: 'get', m: 'commit', a: {}} with hand-written keys, since objects cannot repeat keys.
  const duplicateMethod = Buffer.concat([
    Buffer.from([0x84]),
    raw(['i', 3, 'm', 'get', 'm', 'commit', 'a', {}]),
  ]);

  it.each([
    ['tuple format', pack([1, 3, 'get', [id(1)]]), 'request is not a map'],
    ['duplicate method', duplicateMethod, 'duplicate map key'],
    [
      'bin method',
      Buffer.from([0x83, 0xa1, 0x69, 3, 0xa1, 0x6d, 0xc4, 3, 0x67, 0x65, 0x74, 0xa1, 0x61, 0x80]),
      'bin value',
    ],
    ['str msgid', pack({ i: 'x', m: 'get', a: {} }), 'msgid is not a non-negative integer'],
    ['missing args', pack({ i: 3, m: 'get' }), 'request keys are not exactly i, m, a'],
    [
      'args after payload',
      pack({ a: { id: id(1), data: big }, i: 3, m: 'put' }),
      'oversized request',
    ],
  ])('%s', (_name, bytes, reason) => {
    const run = runFilter('append-only', [bytes]);
    expect(run.error).toBe(reason);
    expect(run.forwarded.length).toBe(0);
  });

  it('never completes a streamed put with a duplicate id', () => {
    const head = Buffer.concat([
      Buffer.from([0x83]),
      raw(['i', 3, 'm', 'put', 'a']),
      Buffer.from([0x83]),
    ]);
    const args = raw(['id', id(1), 'data', big, 'id', id(2)]);
    const bytes = Buffer.concat([head, args]);
    const run = runFilter('append-only', [bytes]);
    expect(run.error).toBe('duplicate map key');
    expect(run.forwarded.length).toBeGreaterThan(big.length);
    expect(run.forwarded.length).toBeLessThan(bytes.length);
    expect(run.allowed).toEqual([]);
  });
});
