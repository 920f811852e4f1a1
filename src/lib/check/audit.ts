import type { AuditLog } from '../audit-log/writer.js';
import type { CheckResult } from './execute.js';

/** The part of the audit log the check runner writes to; tests pass an in-memory list. */
export type CheckAuditSink = Pick<AuditLog, 'append'>;

const BORG_COMMAND: Record<CheckResult['kind'], string> = {
  repository_only: 'borg check --repository-only',
  verify_data: 'borg check --verify-data',
};

/**
 * Appends one `check` record. The record schema has no outcome field, so `reason`
 * carries the outcome followed by borg's message, and `command` names the check kind.
 */
export async function auditCheckResult(sink: CheckAuditSink, result: CheckResult): Promise<void> {
  await sink.append({
    event: 'check',
    repository: result.repository,
    command: BORG_COMMAND[result.kind],
    reason: result.message === '' ? result.outcome : `${result.outcome}: ${result.message}`,
    exit_code: result.exitCode,
    duration_ms: result.durationMs,
  });
}
