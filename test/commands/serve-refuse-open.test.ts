import { PassThrough } from 'node:stream';
import { decodeMulti } from '@msgpack/msgpack';
import { describe, expect, it } from 'vitest';
import { refuse, type SessionContext } from '../../src/commands/serve.js';
import { refusalMessage } from '../../src/lib/session/refusals.js';

/** Builds a session whose client has sent negotiate and open, with the fields refuse() reads. */
function sessionAfterOpen(openMsgid: number | undefined) {
  const stdin = new PassThrough();
  const stdout = new PassThrough();
  const sent: Buffer[] = [];
  stdout.on('data', (chunk: Buffer) => sent.push(chunk));
  const session = {
    request: { kind: 'borg-serve' },
    io: { stdin, stdout, stderr: new PassThrough(), env: {} },
    openMsgid,
  } as unknown as SessionContext;
  return { session, stdin, replies: () => [...decodeMulti(Buffer.concat(sent))] };
}

describe('refuse after the handshake', () => {
  it("answers the client's pending open at once", async () => {
    const { session, stdin, replies } = sessionAfterOpen(2);
    // The client hangs up after the refusal, as borg does.
    const refused = refuse(session, 'audit-log-unavailable');
    stdin.end();
    expect(await refused).toBe(1);
    expect(replies()).toEqual([
      expect.objectContaining({
        i: 2,
        exception_short: [refusalMessage('audit-log-unavailable')],
      }),
    ]);
  });
});
