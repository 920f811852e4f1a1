import type { CheckRecord } from './state.js';
import { type CheckKind, type CheckTarget, overdueAfterMs } from './targets.js';

/** Tells whether a check should run now: never run, skipped last time, or its interval has passed. */
export function isDue(
  record: CheckRecord | undefined,
  target: CheckTarget,
  kind: CheckKind,
  now: Date,
): boolean {
  if (record?.last_run === undefined || record.retry === true) {
    return true;
  }
  return now.getTime() - Date.parse(record.last_run) >= target.everyMs[kind];
}

/**
 * Tells whether a check has gone too long without success. The clock starts at the
 * last success or, for a check that never succeeded, when borg-gate first planned it.
 */
export function isOverdue(
  record: CheckRecord | undefined,
  target: CheckTarget,
  kind: CheckKind,
  now: Date,
): boolean {
  if (record === undefined) {
    return false;
  }
  const since = Date.parse(record.last_success ?? record.first_seen);
  return now.getTime() - since > overdueAfterMs(target, kind);
}

/** Tells whether an overdue alert should go out: none sent yet, or the last one is an interval old. */
export function shouldSendOverdueAlert(
  record: CheckRecord,
  target: CheckTarget,
  kind: CheckKind,
  now: Date,
): boolean {
  if (record.last_overdue_alert === undefined) {
    return true;
  }
  return now.getTime() - Date.parse(record.last_overdue_alert) >= target.everyMs[kind];
}
