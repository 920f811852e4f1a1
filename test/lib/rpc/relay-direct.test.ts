import { PassThrough } from 'node:stream';
import { setImmediate as tick } from 'node:timers/promises';
import { decodeMulti } from '@msgpack/msgpack';
import { describe, expect, it, vi } from 'vitest';
import { REFUSAL_MESSAGES, type SessionMode } from '../../../src/lib/rpc/policy.js';
import { relaySession } from '../../../src/lib/rpc/relay.js';
import { request } from './fixtures/pack.js';

/**
 * Starts a relay in which borg would write its replies to the client itself. Borg is a pair of
 * streams and a promise: `exit()` plays borg ending, `written()` decodes what the gate itself
 * sent the client.
 */
function directRelay(mode: SessionMode, allowCheck = false) {
  const clientIn = new PassThrough();
  const clientOut = new PassThrough();
  const childIn = new PassThrough();
  const forwarded: Buffer[] = [];
  childIn.on('data', (chunk: Buffer) => forwarded.push(chunk));
  const sent: Buffer[] = [];
  clientOut.on('data', (chunk: Buffer) => sent.push(chunk));
  let exit = (_bySignal = false) => {};
  const exited = new Promise<boolean>((resolve) => {
    exit = (bySignal = false) => resolve(bySignal);
  });
  let stops = 0;
  const relay = relaySession({
    clientIn,
    clientOut,
    childIn,
    replies: {
      kind: 'direct',
      exited,
      stop: async () => {
        stops += 1;
        return !(await exited);
      },
    },
    mode,
    allowCheck,
    afterOpen: true,
  });
  return {
    clientIn,
    childIn,
    relay,
    exit,
    stops: () => stops,
    forwarded: () => Buffer.concat(forwarded),
    written: () => [...decodeMulti(Buffer.concat(sent))] as Record<string, unknown>[],
  };
}

describe('relaySession with direct replies', () => {
  it('holds a refusal until borg has exited, then answers the rest itself', async () => {
    const session = directRelay('read-only');
    const get = request(3, 'get', { id: Buffer.alloc(32, 1) });
    session.clientIn.write(Buffer.concat([get, request(4, 'put', { id: Buffer.alloc(32, 2) })]));
    await tick();
    expect(session.forwarded()).toEqual(get);
    // borg's input ends, so it finishes the get and exits; until then it may still be writing.
    expect(session.childIn.writableEnded).toBe(true);
    expect(session.stops()).toBe(1);
    session.clientIn.write(Buffer.concat([request(5, 'rollback'), request(6, 'list')]));
    await tick();
    expect(session.written()).toEqual([]);

    session.exit();
    await tick();
    const replies = session.written();
    expect(replies.map((reply) => reply.i)).toEqual([4, 5, 6]);
    expect(replies[0]?.exception_short).toEqual([REFUSAL_MESSAGES.readOnly]);
    expect(replies[1]).toEqual({ i: 5, r: null });
    expect(replies[2]?.exception_short).toEqual([REFUSAL_MESSAGES.ended]);
    // Nothing after the refusal reached borg.
    expect(session.forwarded()).toEqual(get);

    session.clientIn.end();
    const stats = await session.relay;
    expect(stats.refusedMethod).toBe('put');
    expect(stats.refusedMsgid).toBe(4);
    expect(stats.gets).toBe(1);
    expect(stats.bytesOut).toBeUndefined();
  });

  it('ends when borg exits on its own, while the client is still connected', async () => {
    const session = directRelay('append-only');
    session.clientIn.write(request(3, 'get', { id: Buffer.alloc(32, 1) }));
    await tick();
    session.exit();
    const stats = await session.relay;
    expect(stats.gets).toBe(1);
    expect(stats.refusals).toBe(0);
    expect(session.written()).toEqual([]);
    expect(session.stops()).toBe(0);
  });

  it("ends borg's input when the client's ends", async () => {
    const session = directRelay('append-only');
    const put = request(3, 'put', { id: Buffer.alloc(32, 1), data: Buffer.alloc(100_000, 7) });
    const commit = request(4, 'commit', { compact: false });
    session.clientIn.end(Buffer.concat([put, commit]));
    await tick();
    expect(session.childIn.writableEnded).toBe(true);
    session.exit();
    const stats = await session.relay;
    expect(session.forwarded()).toEqual(Buffer.concat([put, commit]));
    expect(stats).toMatchObject({ puts: 1, commit: true, truncated: false });
  });

  it('ends borg without a reply of its own on a protocol violation', async () => {
    const session = directRelay('read-write');
    // A tuple-format request after the handshake is refused as a violation.
    session.clientIn.write(Buffer.from([0x94, 0x01, 0x03, 0xa3, 0x67, 0x65, 0x74, 0x90]));
    await tick();
    expect(session.childIn.writableEnded).toBe(true);
    session.exit();
    const stats = await session.relay;
    expect(stats.protocolError).toBe('request is not a map');
    expect(session.written()).toEqual([]);
    expect(session.forwarded().length).toBe(0);
  });

  it('stops waiting for a client that never hangs up after a refusal', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      const session = directRelay('read-only');
      session.clientIn.write(request(3, 'put', { id: Buffer.alloc(32, 2) }));
      await tick();
      session.exit();
      await tick();
      expect(session.written().map((reply) => reply.i)).toEqual([3]);
      let ended = false;
      void session.relay.then(() => {
        ended = true;
      });
      await vi.advanceTimersByTimeAsync(9_000);
      expect(ended).toBe(false);
      await vi.advanceTimersByTimeAsync(1_500);
      expect(ended).toBe(true);
    } finally {
      vi.useRealTimers();
    }
  });

  it('refuses the nonce calls that only a relayed borg check may make', async () => {
    const session = directRelay('read-only', true);
    session.clientIn.write(request(3, 'get_free_nonce'));
    await tick();
    session.exit();
    await tick();
    session.clientIn.end();
    const stats = await session.relay;
    expect(session.written()).toEqual([
      expect.objectContaining({ i: 3, exception_short: [REFUSAL_MESSAGES.readOnly] }),
    ]);
    expect(stats.refusedMethod).toBe('get_free_nonce');
  });

  it('writes nothing after a borg that a signal ended', async () => {
    const session = directRelay('read-only');
    session.clientIn.write(request(3, 'put', { id: Buffer.alloc(32, 2) }));
    await tick();
    // A signal may have cut borg's last reply short, so a refusal after it would not decode.
    session.exit(true);
    await tick();
    session.clientIn.end(request(4, 'rollback'));
    const stats = await session.relay;
    expect(session.written()).toEqual([]);
    expect(stats.refusedMethod).toBe('put');
  });
});
