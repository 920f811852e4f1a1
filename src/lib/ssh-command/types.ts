/** Log levels of borg's common options (`--debug` ... `--critical`). */
export type LogLevel = 'debug' | 'info' | 'warning' | 'error' | 'critical';

export const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warning', 'error', 'critical'];

/** A `borg serve` request as the client sent it, after every word passed its check. */
export interface ServeRequest {
  kind: 'borg-serve';
  /** Word 0, the client's `--remote-path`. Only a hint, because the gate runs its own binary. */
  program: string;
  /** Last log-level flag, because borg's argparse keeps the last one too. */
  logLevel?: LogLevel;
  /** Each matches `DEBUG_TOPIC_PATTERN`. */
  debugTopics: string[];
  logJson: boolean;
  /**
   * Seconds, 0..86400. NOTE: borg 1.2 and 1.4 clients never send it, because they pass
   * the lock wait in the `open` RPC.
   */
  lockWait?: number;
  /** Octal digits that borg 1.0 and 1.1 clients send. The policy umask applies instead. */
  umask?: string;
  /** Size in borg syntax, capped by the policy quota when the argv is built. */
  storageQuota?: string;
}

export type RejectReason =
  | 'empty'
  | 'too-long'
  | 'bad-characters'
  | 'shell-syntax'
  | 'not-borg-serve'
  | 'forbidden-flag'
  | 'unknown-flag'
  | 'bad-flag-value'
  | 'extra-arguments'
  | 'internal-error';

export interface RejectedCommand {
  kind: 'rejected';
  reason: RejectReason;
  /** Explanation for the admin log, with client text escaped. It must not reach the client. */
  detail: string;
}

export type ParsedCommand = ServeRequest | RejectedCommand;

export function reject(reason: RejectReason, detail: string): RejectedCommand {
  return { kind: 'rejected', reason, detail };
}

export function isRejected(value: unknown): value is RejectedCommand {
  return (
    typeof value === 'object' && value !== null && 'kind' in value && value.kind === 'rejected'
  );
}
