import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { ProtocolError } from '../../../src/lib/rpc/errors.js';
import { type Negotiate, readHandshake } from '../../../src/lib/rpc/handshake.js';
import { pack, request } from './fixtures/pack.js';

const negotiate = pack([1, 1, 'negotiate', [{ client_version: [1, 2, 4, -1] }]]);
const openArgs = {
  path: '/srv/repo',
  create: false,
  lock_wait: 1,
  lock: true,
  exclusive: false,
  append_only: false,
  make_parent_dirs: false,
};
const open = request(2, 'open', openArgs);

async function handshake(chunks: Buffer[], timeoutMs = 2000) {
  const input = new PassThrough();
  const negotiated: Negotiate[] = [];
  const result = readHandshake(input, { onNegotiate: (n) => void negotiated.push(n), timeoutMs });
  for (const chunk of chunks) input.write(chunk);
  return { result: await result, negotiated };
}

async function reason(chunks: Buffer[], timeoutMs = 2000): Promise<string> {
  try {
    await handshake(chunks, timeoutMs);
    return 'accepted';
  } catch (error) {
    if (error instanceof ProtocolError) return error.reason;
    throw error;
  }
}

describe('readHandshake', () => {
  it('reads negotiate and open', async () => {
    const { result, negotiated } = await handshake([negotiate, open]);
    expect(negotiated).toEqual([{ msgid: 1, clientVersion: [1, 2, 4, -1] }]);
    expect(result.negotiateBytes).toEqual(negotiate);
    expect(result.openBytes).toEqual(open);
    expect(result.clientVersion).toEqual([1, 2, 4, -1]);
    expect(result.rest.length).toBe(0);
    expect(result.open).toEqual({
      msgid: 2,
      path: '/srv/repo',
      create: false,
      lock: true,
      exclusive: false,
      appendOnly: false,
      makeParentDirs: false,
      lockWait: 1,
    });
  });

  it('keeps bytes after open', async () => {
    const get = request(3, 'get', { id: Buffer.alloc(32) });
    const all = Buffer.concat([negotiate, open, get]);
    const { result } = await handshake([all.subarray(0, 7), all.subarray(7)]);
    expect(result.rest).toEqual(get);
  });

  it.each([
    ['create 1', { create: 1 }, 'create', true],
    ['create nil', { create: null }, 'create', false],
    ['exclusive empty', { exclusive: '' }, 'exclusive', true],
    ['lock absent', { lock: undefined }, 'lock', true],
    ['lock 0', { lock: 0 }, 'lock', false],
  ])('flag %s', async (_name, override, field, expected) => {
    const args = Object.fromEntries(
      Object.entries({ ...openArgs, ...override }).filter(([, value]) => value !== undefined),
    );
    const { result } = await handshake([negotiate, request(2, 'open', args as never)]);
    expect(result.open[field as 'create']).toBe(expected);
  });

  it.each([
    ['open first', [open], 'first message is not a tuple-format negotiate'],
    [
      'dict negotiate',
      [request(1, 'negotiate', {})],
      'first message is not a tuple-format negotiate',
    ],
    ['borg 1.0 client', [pack([1, 1, 'negotiate', [2]])], 'negotiate without client data map'],
    ['get second', [negotiate, request(2, 'get', {})], 'second message is not open'],
    ['tuple open', [negotiate, pack([1, 2, 'open', ['/r']])], 'request is not a map'],
    [
      'str msgid',
      [negotiate, pack({ i: 'x', m: 'open', a: {} })],
      'msgid is not a non-negative integer',
    ],
    [
      'extra key',
      [negotiate, pack({ i: 2, m: 'open', a: {}, x: 1 })],
      'request keys are not exactly i, m, a',
    ],
    [
      'missing args',
      [negotiate, pack({ i: 2, m: 'open' })],
      'request keys are not exactly i, m, a',
    ],
    ['no path', [negotiate, request(2, 'open', {})], 'open path is not a string'],
    [
      'bad UTF-8',
      [negotiate, request(2, 'open', { path: Buffer.from([0x2f, 0xff]) })],
      'open path is not valid UTF-8',
    ],
    ['NUL path', [negotiate, request(2, 'open', { path: '/a\0b' })], 'open path contains NUL'],
    [
      'proto key',
      [negotiate, pack({ i: 2, m: 'open', a: JSON.parse('{"__proto__": 1}') })],
      'undecodable message',
    ],
    ['early close', [negotiate], 'handshake timed out'],
  ])('rejects %s', async (_name, chunks, expected) => {
    expect(await reason(chunks, 300)).toBe(expected);
  });

  it('rejects a huge open', async () => {
    const huge = request(2, 'open', { path: Buffer.alloc(70_000, 0x61) });
    expect(await reason([negotiate, huge])).toBe('handshake message too long');
  });

  it('rejects a closed stream', async () => {
    const input = new PassThrough();
    const result = readHandshake(input, { onNegotiate: () => {} });
    input.end(negotiate);
    await expect(result).rejects.toThrow('connection closed during handshake');
  });
});
