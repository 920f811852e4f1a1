import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { Client } from '../../../src/lib/policy/schema.js';
import {
  discardEarlyBorg,
  earlyBorgFits,
  startBorgEarly,
} from '../../../src/lib/session/borg-start.js';
import type { GrantedSession } from '../../../src/lib/session/run.js';
import type { ServeRequest } from '../../../src/lib/ssh-command/types.js';

const REQUEST: ServeRequest = {
  kind: 'borg-serve',
  program: 'borg',
  debugTopics: [],
  logJson: false,
};

/** Builds a granted session with the fields that starting borg reads, on in-memory streams. */
function granted(client: Partial<Client>, request: Partial<ServeRequest> = {}): GrantedSession {
  const io = {
    env: { HOME: '/tmp' },
    stdin: new PassThrough(),
    stdout: new PassThrough(),
    stderr: new PassThrough(),
  };
  return {
    session: { io },
    policy: { borg: { umask: '0077' } },
    client: { mode: 'append-only', allow_check: false, repositories: [], paths: [], ...client },
    binary: { path: '/usr/bin/borg', major: 1 },
    request: { ...REQUEST, ...request },
  } as unknown as GrantedSession;
}

describe('startBorgEarly', () => {
  it('waits for open when the client has several grants', () => {
    expect(startBorgEarly(granted({ repositories: ['/srv/a', '/srv/b'] }))).toBeUndefined();
  });

  it('waits for open when a read-only key may run check', () => {
    const session = granted({ repositories: ['/srv/a'], mode: 'read-only', allow_check: true });
    expect(startBorgEarly(session)).toBeUndefined();
  });

  it('waits for open when the grant has no valid command line', () => {
    const session = granted({ repositories: ['/srv/a'], storage_quota: '1K' });
    expect(startBorgEarly(session)).toBeUndefined();
  });

  it('starts borg for a single grant and kills it unheard', async () => {
    const early = startBorgEarly(granted({ repositories: ['/srv/a'] }));
    expect(early?.direct).toBe(true);
    expect(early?.argv.args).toContain('--restrict-to-repository=/srv/a');
    await discardEarlyBorg(early);
    const exit = await early?.child.exited;
    expect(exit?.signal).toBe('SIGKILL');
  });

  it('relays replies for a grant with a storage quota', async () => {
    const early = startBorgEarly(granted({ repositories: ['/srv/a'], storage_quota: '10G' }));
    expect(early?.direct).toBe(false);
    await discardEarlyBorg(early);
  });
});

describe('earlyBorgFits', () => {
  it('accepts only the same command line and reply path', async () => {
    const early = startBorgEarly(granted({ repositories: ['/srv/a'] }));
    await discardEarlyBorg(early);
    if (early === undefined) throw new Error('borg did not start');
    expect(earlyBorgFits(early, early.argv, true)).toBe(true);
    expect(earlyBorgFits(early, early.argv, false)).toBe(false);
    const other = { file: early.argv.file, args: [...early.argv.args, '--append-only'] };
    expect(earlyBorgFits(early, other, true)).toBe(false);
  });
});
