import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SessionMode } from '../../../src/lib/rpc/policy.js';
import { relaySession } from '../../../src/lib/rpc/relay.js';
import { type Packable, pack, request } from './fixtures/pack.js';
import { makeRepository, snapshot } from './fixtures/repo.js';

const raw = (parts: Packable[]) => Buffer.concat(parts.map((part) => pack(part)));

/** Starts a real `borg serve` and passes it the client's open, like the serve command does. */
function startBorg(repo: string): ChildProcessWithoutNullStreams {
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin' };
  const child = spawn('borg', ['serve', '--log-json'], { env });
  child.stdin.write(
    request(2, 'open', { path: repo, create: false, lock: true, exclusive: false }),
  );
  return child;
}

async function relayRaw(repo: string, mode: SessionMode, input: Buffer) {
  const child = startBorg(repo);
  const exited = new Promise((resolve) => child.on('exit', resolve));
  const clientIn = new PassThrough();
  const clientOut = new PassThrough();
  const replies: Buffer[] = [];
  clientOut.on('data', (chunk: Buffer) => replies.push(chunk));
  const relay = relaySession({
    clientIn,
    clientOut,
    childIn: child.stdin,
    replies: { kind: 'relay', childOut: child.stdout },
    mode,
    allowCheck: true,
    afterOpen: true,
  });
  clientIn.end(input);
  const stats = await relay;
  await exited;
  return { stats, replies: Buffer.concat(replies) };
}

describe('relaySession protocol violations with real borg serve', () => {
  let base: string;
  let repo: string;
  beforeAll(async () => {
    base = await mkdtemp(join(tmpdir(), 'borg-gate-proto-'));
    repo = await makeRepository(base);
  }, 120_000);
  afterAll(async () => {
    await rm(base, { recursive: true, force: true });
  });

  it.each([
    // borg keeps the last of two equal keys and would run commit.
    [
      'duplicate method',
      Buffer.concat([
        Buffer.from([0x84]),
        raw(['i', 3, 'm', 'get', 'm', 'commit', 'a', { compact: true }]),
      ]),
      'duplicate map key',
    ],
    ['tuple commit', pack([1, 3, 'commit', [false]]), 'request is not a map'],
    [
      'bin method',
      Buffer.from([
        0x83,
        0xa1,
        0x69,
        3,
        0xa1,
        0x6d,
        0xc4,
        6,
        ...Buffer.from('commit'),
        0xa1,
        0x61,
        0x80,
      ]),
      'bin value',
    ],
  ])('%s ends the session unchanged', async (_name, bytes, reason) => {
    const before = await snapshot(repo);
    const { stats } = await relayRaw(repo, 'read-write', bytes);
    expect(stats.protocolError).toBe(reason);
    expect(stats.commit).toBe(false);
    expect(await snapshot(repo)).toEqual(before);
  });

  it('streamed put cut short never runs', async () => {
    const before = await snapshot(repo);
    const head = Buffer.concat([
      Buffer.from([0x83]),
      raw(['i', 3, 'm', 'put', 'a']),
      Buffer.from([0x82]),
    ]);
    const put = Buffer.concat([
      head,
      raw(['id', Buffer.alloc(32, 1), 'id', Buffer.alloc(200_000)]),
    ]);
    const commit = request(4, 'commit', { compact: false });
    const { stats } = await relayRaw(repo, 'read-write', Buffer.concat([put, commit]));
    expect(stats.protocolError).toBe('duplicate map key');
    expect(stats.puts).toBe(0);
    expect(await snapshot(repo)).toEqual(before);
  });
});

describe('relaySession backpressure', () => {
  it('stops reading borg while the client is slow', async () => {
    const childOut = new PassThrough();
    const childIn = new PassThrough();
    let release: (() => void) | undefined;
    const clientOut = new Writable({
      highWaterMark: 1024,
      write(_chunk, _encoding, callback) {
        release = callback;
      },
    });
    const clientIn = new PassThrough();
    const relay = relaySession({
      clientIn,
      clientOut,
      childIn,
      replies: { kind: 'relay', childOut },
      mode: 'read-only',
      allowCheck: true,
      afterOpen: true,
    });
    // One 4 MiB get reply {i: 3, r: <data>}, written in 64 KiB pieces.
    const reply = pack({ i: 3, r: Buffer.alloc(4 * 1024 * 1024, 1) });
    for (let offset = 0; offset < reply.length; offset += 65536)
      childOut.write(reply.subarray(offset, offset + 65536));
    await new Promise((resolve) => setTimeout(resolve, 100));
    // The relay wrote one piece, waits for the client, and leaves the rest in borg's pipe.
    expect(childOut.readableLength + childOut.writableLength).toBeGreaterThan(3 * 1024 * 1024);
    clientOut.destroy();
    release?.();
    childOut.end();
    clientIn.end();
    const stats = await relay;
    expect(stats.bytesOut).toBeLessThan(reply.length);
  });
});
