import { describe, expect, it } from 'vitest';
import type { BorgExit } from '../../../src/lib/session/child.js';
import { sessionEndReason } from '../../../src/lib/session/end-reason.js';
import type { RelayStats } from '../../../src/lib/session/relay.js';

function stats(overrides: Partial<RelayStats> = {}): RelayStats {
  return {
    bytesIn: 0,
    bytesOut: 0,
    rpc: { puts: 0, gets: 0, deletes: 0, commit: false, refused_method: null },
    truncated: false,
    uncommittedWrites: false,
    ...overrides,
  };
}

const clean: BorgExit = { code: 0 };
const killed: BorgExit = { code: 137, signal: 'SIGKILL' };
const forwarded: BorgExit = { code: 143, sentByGate: { signal: 'SIGTERM', cause: 'forwarded' } };
const shutdown: BorgExit = {
  code: 143,
  signal: 'SIGTERM',
  sentByGate: { signal: 'SIGTERM', cause: 'shutdown' },
};
const timeout: BorgExit = {
  code: 137,
  signal: 'SIGKILL',
  sentByGate: { signal: 'SIGTERM', cause: 'exit-timeout' },
};
const failed: BorgExit = { code: 2 };
const uncommitted = { uncommittedWrites: true };

describe('sessionEndReason', () => {
  it.each([
    ['clean end', stats(), clean, undefined],
    [
      'client drop inside a request',
      stats({ truncated: true }),
      clean,
      'client-disconnected: the connection ended inside a request',
    ],
    [
      'client drop before commit',
      stats(uncommitted),
      clean,
      'client-disconnected: data was written but never committed',
    ],
    ['borg killed', stats(), killed, 'borg-killed: borg serve was killed by SIGKILL'],
    [
      'borg killed before commit',
      stats({ ...uncommitted, truncated: true }),
      killed,
      'borg-killed: borg serve was killed by SIGKILL, before the data it stored was committed',
    ],
    [
      'gate terminated',
      stats(uncommitted),
      forwarded,
      'gate-terminated: borg-gate received SIGTERM and passed it to borg serve, before the data it stored was committed',
    ],
    [
      'listen shutdown',
      stats(),
      shutdown,
      'gate-terminated: borg-gate sent SIGTERM to borg serve while shutting down',
    ],
    [
      'exit timeout',
      stats(),
      timeout,
      'borg-exit-timeout: borg serve did not exit after its session, so borg-gate sent SIGTERM',
    ],
    ['borg failed', stats(), failed, 'borg-failed: borg serve exited with code 2'],
    [
      'quota stop',
      stats({ ...uncommitted, serverError: 'StorageQuotaExceeded' }),
      clean,
      'borg-error: borg serve replied with StorageQuotaExceeded, then the client closed the connection, before the data it stored was committed',
    ],
    ['error in clean session', stats({ serverError: 'ObjectNotFound' }), clean, undefined],
    [
      'refusal wins',
      stats({ refusal: 'rpc-refused: delete (msgid 5)' }),
      killed,
      'rpc-refused: delete (msgid 5)',
    ],
    [
      'refusal, then a borg the gate stopped',
      stats({ refusal: 'rpc-refused: delete (msgid 5)' }),
      { code: 143, sentByGate: { signal: 'SIGTERM', cause: 'exit-timeout' } },
      'rpc-refused: delete (msgid 5); borg-exit-timeout: borg serve did not exit after its session, so borg-gate sent SIGTERM',
    ],
  ] as const)('%s', (_name, relay, exit, expected) => {
    expect(sessionEndReason(relay, exit)).toBe(expected);
  });
});
