import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { encodeErrorReply } from '../../../src/lib/rpc/replies.js';
import { ReplyChannel } from '../../../src/lib/rpc/reply-channel.js';
import { pack } from './fixtures/pack.js';

/** Relays `replies` through a ReplyChannel, split into `chunkSize` pieces, and returns it. */
async function relay(replies: Buffer[], chunkSize = 7): Promise<ReplyChannel> {
  const output = new PassThrough();
  output.resume();
  const channel = new ReplyChannel(output);
  const input = new PassThrough();
  const bytes = Buffer.concat(replies);
  for (let offset = 0; offset < bytes.length; offset += chunkSize) {
    input.write(bytes.subarray(offset, offset + chunkSize));
  }
  input.end();
  await channel.pump(input, new AbortController().signal);
  return channel;
}

const result = (msgid: number, value: Buffer | null) => pack({ i: msgid, r: value });

describe('ReplyChannel serverError', () => {
  it('records the first error class', async () => {
    const channel = await relay([
      result(2, null),
      encodeErrorReply(3, 'StorageQuotaExceeded', 'The storage quota has been exceeded'),
      encodeErrorReply(4, 'ObjectNotFound', 'not found'),
    ]);
    expect(channel.serverError).toBe('StorageQuotaExceeded');
  });

  it('ignores error text inside a result', async () => {
    // Object data is chosen by clients, so a `get` result may hold a packed error reply.
    const fake = encodeErrorReply(3, 'StorageQuotaExceeded', 'forged');
    const channel = await relay([result(2, fake)]);
    expect(channel.serverError).toBeUndefined();
  });

  it('replaces an invalid class name', async () => {
    const channel = await relay([encodeErrorReply(3, 'Bad\nName', 'x')]);
    expect(channel.serverError).toBe('(invalid name)');
  });
});
