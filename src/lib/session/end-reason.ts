import type { BorgExit } from './child.js';
import type { RelayStats } from './relay.js';

/**
 * Returns the audit `reason` of a protocol-aware session_end: a refusal or protocol error first,
 * then what ended borg serve, then a client that went away mid-session. borg serve exits 0 when
 * its input ends, so without the last case a connection dropped mid-backup reads as clean.
 */
export function sessionEndReason(stats: RelayStats, exit: BorgExit): string | undefined {
  if (stats.refusal !== undefined) {
    // A borg the gate had to stop after the refusal (its client stopped reading) is named too.
    const timedOut = exit.sentByGate?.cause === 'exit-timeout';
    return timedOut ? `${stats.refusal}; ${serverSideEnd(exit)}` : stats.refusal;
  }
  const serverSide = serverSideEnd(exit) ?? serverErrorEnd(stats);
  if (serverSide !== undefined) {
    return stats.uncommittedWrites
      ? `${serverSide}, before the data it stored was committed`
      : serverSide;
  }
  if (stats.truncated) {
    return 'client-disconnected: the connection ended inside a request';
  }
  // NOTE: this catches a backup dropped before its first commit. One dropped after a
  // checkpoint commit still looks complete here, although its archive is never written.
  return stats.uncommittedWrites
    ? 'client-disconnected: data was written but never committed'
    : undefined;
}

/**
 * Describes a client that closed the session early after borg replied with an error, such as
 * StorageQuotaExceeded. An error in a session that ended cleanly is not reported.
 */
function serverErrorEnd(stats: RelayStats): string | undefined {
  if (stats.serverError === undefined || !(stats.truncated || stats.uncommittedWrites)) {
    return undefined;
  }
  return `borg-error: borg serve replied with ${stats.serverError}, then the client closed the connection`;
}

/** Describes an end of borg serve that the client did not cause, or returns undefined. */
function serverSideEnd(exit: BorgExit): string | undefined {
  const sent = exit.sentByGate;
  if (sent?.cause === 'forwarded') {
    return `gate-terminated: borg-gate received ${sent.signal} and passed it to borg serve`;
  }
  if (sent?.cause === 'shutdown') {
    return `gate-terminated: borg-gate sent ${sent.signal} to borg serve while shutting down`;
  }
  if (sent?.cause === 'exit-timeout') {
    return `borg-exit-timeout: borg serve did not exit after its session, so borg-gate sent ${sent.signal}`;
  }
  if (exit.signal !== undefined) {
    return `borg-killed: borg serve was killed by ${exit.signal}`;
  }
  if (exit.code !== 0) {
    return `borg-failed: borg serve exited with code ${exit.code}`;
  }
  return undefined;
}
