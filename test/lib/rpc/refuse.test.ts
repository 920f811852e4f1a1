import { rm } from 'node:fs/promises';
import { PassThrough } from 'node:stream';
import { decodeMulti, encode } from '@msgpack/msgpack';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { refuseInProtocol } from '../../../src/lib/rpc/refuse.js';
import { runBorg } from './fixtures/borg-client.js';
import { bundleFixture } from './fixtures/bundle.js';

const refusal = { exceptionClass: 'AccessDenied', message: 'borg-gate: access denied' };
const negotiate = encode([1, 1, 'negotiate', [{ client_version: [1, 2, 4, -1] }]]);

function collect(stream: PassThrough): Buffer[] {
  const chunks: Buffer[] = [];
  stream.on('data', (chunk: Buffer) => chunks.push(chunk));
  return chunks;
}

describe('refuseInProtocol with the real borg client', () => {
  let fixture: { dir: string; script: string };
  beforeAll(async () => {
    fixture = await bundleFixture('refuse-rsh');
  });
  afterAll(async () => {
    await rm(fixture.dir, { recursive: true, force: true });
  });

  const env = (exceptionClass: string) => ({
    BORG_RSH: `node ${fixture.script}`,
    REFUSAL_CLASS: exceptionClass,
    REFUSAL_MESSAGE: refusal.message,
  });

  it('prints the message on 20 runs', async () => {
    for (let run = 0; run < 20; run += 1) {
      const result = await runBorg(['list', 'ssh://gate/srv/repo'], env('AccessDenied'));
      expect(result.code).toBe(2);
      expect(result.stderr).toBe(`${refusal.message}\n`);
      expect(result.stdout).toBe('');
    }
  });

  it.each([
    ['AccessDenied', 'borg-gate: access denied\n'],
    ['PathNotAllowed', 'Repository path not allowed: borg-gate: access denied\n'],
  ])('class %s wording', async (exceptionClass, expected) => {
    const result = await runBorg(['list', 'ssh://gate/srv/repo'], env(exceptionClass));
    expect(result.code).toBe(2);
    expect(result.stderr).toBe(expected);
  });

  it.each([
    [['init', '-e', 'none', 'ssh://gate/srv/new']],
    [['create', 'ssh://gate/srv/repo::a', '/etc/hostname']],
    [['break-lock', 'ssh://gate/srv/repo']],
  ])('refuses borg %j', async (args) => {
    const result = await runBorg(args, env('AccessDenied'));
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(refusal.message);
  });
});

describe('refuseInProtocol bounds', () => {
  it('answers negotiate, open and rollback', async () => {
    const input = new PassThrough();
    const output = new PassThrough();
    const replies = collect(output);
    const done = refuseInProtocol(input, output, refusal);
    input.write(negotiate);
    input.write(encode({ i: 2, m: 'open', a: { path: '/r' } }));
    input.end(encode({ i: 3, m: 'rollback', a: {} }));
    expect(await done).toBe('closed');
    const all = Buffer.concat(replies);
    const first = encode([1, 1, null, { server_version: [1, 2, 4, -1] }]);
    expect(all.subarray(0, first.length)).toEqual(Buffer.from(first));
    const [, error, rollback] = [...decodeMulti(all)] as Record<string, unknown>[];
    expect(error?.i).toBe(2);
    expect(error?.exception_class).toBe('AccessDenied');
    expect(error?.exception_short).toEqual(['borg-gate: access denied']);
    expect(error?.exception_trace).toBe(false);
    expect(error?.sysinfo).toBe('');
    expect(rollback).toEqual({ i: 3, r: null });
  });

  it('stops after 1 MiB of input', async () => {
    const input = new PassThrough();
    const output = new PassThrough();
    collect(output);
    const done = refuseInProtocol(input, output, refusal);
    input.write(negotiate);
    // An array of three 512 KiB strings: each passes the str limit, the total does not.
    input.write(Buffer.from([0x93]));
    for (let i = 0; i < 3; i += 1) {
      input.write(Buffer.from([0xdb, 0, 0x08, 0, 0]));
      input.write(Buffer.alloc(512 * 1024, 0x41));
    }
    expect(await done).toBe('input-limit');
  });

  it('stops at the timeout', async () => {
    const input = new PassThrough();
    const output = new PassThrough();
    collect(output);
    const started = Date.now();
    expect(await refuseInProtocol(input, output, refusal, { timeoutMs: 100 })).toBe('timeout');
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it.each([
    ['bin method', Buffer.from([0x94, 1, 1, 0xc4, 1, 0x78, 0x90])],
    ['tuple after negotiate', Buffer.concat([negotiate, encode([1, 2, 'open', []])])],
    ['str msgid', encode({ i: 'abc', m: 'open', a: {} })],
    ['ext value', Buffer.from([0xd4, 1, 0])],
  ])('ends on %s', async (_name, bytes) => {
    const input = new PassThrough();
    const output = new PassThrough();
    collect(output);
    const done = refuseInProtocol(input, output, refusal);
    input.write(bytes);
    expect(await done).toBe('malformed');
  });
});
