/**
 * Every reason the gate refuses a session, with the one line shown to the client. Messages name
 * the rule and never the policy's contents, server paths or internal errors.
 */
export const REFUSALS = {
  'audit-log-unavailable':
    'the server cannot record this connection; ask the administrator to check borg-gate',
  'policy-unavailable':
    'the server access policy is unavailable; ask the administrator to check borg-gate',
  'internal-error': 'internal error; ask the administrator to check the borg-gate audit log',
  'unknown-client': 'this key is not known to the server access policy',
  'client-disabled': 'this key is disabled',
  'client-expired': 'this key has expired',
  'key-expired': 'this key has expired',
  'key-mismatch': 'this key does not belong to the client it was installed for',
  'key-unverified': 'the server could not verify which key was used',
  'source-not-permitted': 'connections from this address are not permitted for this key',
  'interactive-login': 'interactive login is not permitted; this key only runs borg serve',
  'command-not-permitted': 'only borg serve requests are permitted for this key',
  'flag-not-permitted': 'this borg serve option is not permitted',
  'program-not-permitted': 'the requested borg program (--remote-path) is not permitted',
  'protocol-error': 'unexpected data from the borg client',
  'repository-not-permitted': 'repository not permitted for this key',
  'read-only': 'this repository is read-only for this key',
  // An exclusive open is how borg check starts, and so do prune and other writes.
  'read-only-no-check':
    'this repository is read-only for this key, and borg check is not permitted for it',
  'lock-required':
    'this key must lock the repository: borg break-lock and --bypass-lock are not permitted',
  'delete-not-permitted': 'deleting archives is not permitted for this key',
} as const;

export type RefusalReason = keyof typeof REFUSALS;

/** Exit code of a session borg-gate refused; borg's own codes pass through unchanged. */
export const EXIT_REFUSED = 1;

/** The exception class borg's client receives; with no traceback it prints only the message. */
export const REFUSAL_EXCEPTION_CLASS = 'BorgGateRefusal';

/** Returns the client-facing line for a refusal, with the fixed prefix. */
export function refusalMessage(reason: RefusalReason, suffix = ''): string {
  return `borg-gate: ${REFUSALS[reason]}${suffix}`;
}

/** A refusal decided by a check; carries the reason code for the audit log. */
export class SessionRefused extends Error {
  override readonly name = 'SessionRefused';

  constructor(
    readonly reason: RefusalReason,
    /** Detail for the audit log only, raw (the audit writer escapes it); never shown to the client. */
    readonly detail: string,
    readonly clientSuffix = '',
  ) {
    super(`${reason}: ${detail}`);
  }
}

/**
 * A session that ran, whose `session_end` record the audit log did not take. It is reported to
 * the system log, because the session is over and no message can reach the client.
 */
export class SessionEndUnrecorded extends Error {
  override readonly name = 'SessionEndUnrecorded';

  constructor(
    /** borg's exit code, or the gate's for a refused session. */
    readonly exitCode: number,
    cause: unknown,
  ) {
    super(`session_end not recorded: ${String(cause)}`, { cause });
  }
}
