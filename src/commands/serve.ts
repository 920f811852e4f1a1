import { randomUUID } from 'node:crypto';
import type { Readable, Writable } from 'node:stream';
import { type AuditLog, AuditLogError, openAuditLog } from '../lib/audit-log/writer.js';
import { authorizeClient } from '../lib/policy/authorize.js';
import { loadPolicyForClient } from '../lib/policy/load-client.js';
import type { Policy } from '../lib/policy/schema.js';
import { chooseBinary } from '../lib/session/binary.js';
import { commandRefusal } from '../lib/session/command-refusal.js';
import {
  type ConnectionFacts,
  connectionFactsFromEnv,
  fingerprintOf,
} from '../lib/session/facts.js';
import {
  EXIT_REFUSED,
  REFUSAL_EXCEPTION_CLASS,
  type RefusalReason,
  refusalMessage,
  SessionEndUnrecorded,
  SessionRefused,
} from '../lib/session/refusals.js';
import { runGrantedSession } from '../lib/session/run.js';
import { parseSshCommand } from '../lib/ssh-command/parse.js';
import type { ParsedCommand } from '../lib/ssh-command/types.js';

export interface ServeOptions {
  clientId: string;
  policyFile: string;
  /** Audit log for sessions whose policy, and so its audit_log setting, cannot be loaded. */
  fallbackAuditLog: string;
  /** Connection facts from an embedded SSH server; read from sshd's environment when absent. */
  facts?: ConnectionFacts;
  /** Command that writes to the system log when no audit log takes a refusal (tests replace it). */
  syslogCommand?: readonly string[];
}

export interface ServeIo {
  stdin: Readable;
  stdout: Writable;
  stderr: Writable;
  env: NodeJS.ProcessEnv;
}

/** State shared by the steps of one SSH session. */
export interface SessionContext {
  id: string;
  clientId: string;
  facts: ConnectionFacts;
  request: ParsedCommand;
  startedAt: number;
  io: ServeIo;
  /**
   * msgid of the client's `open` while the gate has read it and borg has not: a refusal in
   * that time replies to this call, because the client already sent its `negotiate`.
   */
  openMsgid?: number;
}

/**
 * Runs one SSH session as sshd's forced command and returns the exit code. Nothing runs unless
 * the policy loads, the audit log accepts the first record, and every check passes.
 */
export async function runServe(
  options: ServeOptions,
  io: ServeIo,
  now = new Date(),
): Promise<number> {
  const facts = options.facts ?? connectionFactsFromEnv(io.env);
  const session: SessionContext = {
    id: randomUUID(),
    clientId: options.clientId,
    facts,
    request: parseSshCommand(facts.command),
    startedAt: performance.now(),
    io,
  };
  preloadBorg1Relay(session.request);
  let policy: Policy;
  try {
    policy = (await loadPolicyForClient(options.policyFile, options.clientId)).policy;
  } catch (error) {
    if (!(await recordWithoutPolicy(options.fallbackAuditLog, session, error))) {
      await logUnrecorded(options, session, 'policy-unavailable', error);
    }
    return refuse(session, 'policy-unavailable', error);
  }
  let audit: AuditLog;
  try {
    audit = await openAuditLog(policy.audit_log);
  } catch (error) {
    await logUnrecorded(options, session, 'audit-log-unavailable', error);
    return refuse(session, 'audit-log-unavailable', error);
  }
  try {
    return await serveWithPolicy(session, policy, audit, now);
  } catch (error) {
    if (error instanceof SessionEndUnrecorded) {
      await logSessionEndUnrecorded(options, session, error);
      // A non-zero status lets sshd's log show that something went wrong after the session.
      return error.exitCode === 0 ? EXIT_REFUSED : error.exitCode;
    }
    const refusal = error instanceof SessionRefused ? error : refusalFor(error);
    try {
      await recordRefusal(audit, session, refusal);
    } catch (recordError) {
      await logUnrecorded(options, session, 'audit-log-unavailable', recordError);
      // The client still gets its refusal line, never a stack trace with server paths.
      return refuse(session, 'audit-log-unavailable', recordError);
    }
    return refuse(session, refusal.reason, error, refusal.clientSuffix);
  } finally {
    await audit.close();
  }
}

async function serveWithPolicy(
  session: SessionContext,
  policy: Policy,
  audit: AuditLog,
  now: Date,
): Promise<number> {
  const request = session.request;
  if (request.kind === 'rejected') {
    throw commandRefusal(request);
  }
  const client = authorizeClient(policy, session.clientId, session.facts, now);
  const binary = chooseBinary(policy, request.program);
  return runGrantedSession({ session, policy, client, binary, request, audit });
}

/**
 * Starts loading the module that relays borg 1.x sessions, so its file reads and compilation
 * overlap with the reads of the policy and the audit log. runGrantedSession imports it again
 * and reports a failed load there. A borg 2 session loads it for nothing.
 */
function preloadBorg1Relay(request: ParsedCommand): void {
  if (request.kind === 'borg-serve') {
    import('../lib/session/protocol-aware.js').catch(() => undefined);
  }
}

/** Maps an unexpected error to a refusal; a failed audit append gets its own reason. */
function refusalFor(error: unknown): SessionRefused {
  const reason = error instanceof AuditLogError ? 'audit-log-unavailable' : 'internal-error';
  return new SessionRefused(reason, String(error));
}

/**
 * Records a refusal for an unusable policy in the fallback log. Returns false when that log
 * cannot be opened or written.
 */
async function recordWithoutPolicy(
  file: string,
  session: SessionContext,
  error: unknown,
): Promise<boolean> {
  let audit: AuditLog;
  try {
    audit = await openAuditLog(file);
  } catch {
    return false;
  }
  try {
    await recordRefusal(audit, session, new SessionRefused('policy-unavailable', String(error)));
    return true;
  } catch {
    return false;
  } finally {
    await audit.close();
  }
}

/** Writes a refusal that no audit log recorded to the system log, so the server keeps a trace. */
function logUnrecorded(
  options: ServeOptions,
  session: SessionContext,
  reason: RefusalReason,
  error: unknown,
): Promise<void> {
  const detail = `: ${reason}, not recorded in any audit log: ${String(error)}`;
  return logSessionLine(options, session, 'refused session', detail);
}

/** Writes a session whose `session_end` record the audit log did not take to the system log. */
function logSessionEndUnrecorded(
  options: ServeOptions,
  session: SessionContext,
  error: SessionEndUnrecorded,
): Promise<void> {
  const detail =
    ` ended with exit code ${error.exitCode}, ` +
    `but its session_end record was not written to the audit log: ${String(error.cause)}`;
  return logSessionLine(options, session, 'session', detail);
}

/** Writes one system log line that names the session, its client and address. */
async function logSessionLine(
  options: ServeOptions,
  session: SessionContext,
  subject: string,
  detail: string,
): Promise<void> {
  const { reportToSyslog } = await import('../lib/session/syslog.js');
  const from = session.facts.clientIp ?? 'unknown address';
  const text = `${subject} ${session.id} of client ${session.clientId} from ${from}${detail}`;
  await reportToSyslog(text, options.syslogCommand);
}

/** Writes the audit record of a refused session. */
export async function recordRefusal(
  audit: AuditLog,
  session: SessionContext,
  refusal: SessionRefused,
) {
  await audit.append({
    event: 'session_refused',
    session_id: session.id,
    client_id: session.clientId,
    key_fingerprint: session.facts.authenticatedKey
      ? fingerprintOf(session.facts.authenticatedKey)
      : undefined,
    client_ip: session.facts.clientIp,
    client_port: session.facts.clientPort,
    command: session.facts.command ?? '',
    decision: 'refuse',
    reason: `${refusal.reason}: ${refusal.detail}`,
    duration_ms: Math.round(performance.now() - session.startedAt),
  });
}

/**
 * Sends the client the reason for a refusal. A borg client gets the message as an error
 * reply inside its own protocol, because a stderr line before exit is often lost. Anything else
 * gets one stderr line. stdout carries nothing but borg protocol data.
 */
export async function refuse(
  session: SessionContext,
  reason: RefusalReason,
  _cause?: unknown,
  suffix = '',
): Promise<number> {
  const message = refusalMessage(reason, suffix);
  if (session.openMsgid !== undefined) {
    const { refuseOpen } = await import('../lib/session/open-refusal.js');
    await refuseOpen(session.io.stdin, session.io.stdout, session.openMsgid, message);
  } else if (looksLikeBorgClient(session.request)) {
    // Imported here, because only this path and borg 1.x sessions need msgpack.
    const { refuseInProtocol } = await import('../lib/rpc/refuse.js');
    await refuseInProtocol(session.io.stdin, session.io.stdout, {
      exceptionClass: REFUSAL_EXCEPTION_CLASS,
      message,
    });
  } else {
    session.io.stderr.write(`${message}\n`);
  }
  return EXIT_REFUSED;
}

function looksLikeBorgClient(request: ParsedCommand): boolean {
  if (request.kind === 'borg-serve') {
    return true;
  }
  return ['forbidden-flag', 'unknown-flag', 'bad-flag-value', 'extra-arguments'].includes(
    request.reason,
  );
}
