import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import lockfile from 'proper-lockfile';
import { AlertCommandError, type AlertKind, buildAlert, sendAlert } from './alert.js';
import { auditCheckResult, type CheckAuditSink } from './audit.js';
import { type BorgSettings, type CheckResult, executeCheck } from './execute.js';
import type { ProgressReporter } from './progress.js';
import { isDue, isOverdue, shouldSendOverdueAlert } from './schedule.js';
import {
  type CheckRecord,
  type CheckState,
  CheckStateError,
  readCheckState,
  recordFor,
  writeCheckState,
} from './state.js';
import { type CheckKind, type CheckTarget, canVerifyData } from './targets.js';

export interface CheckRunOptions extends BorgSettings {
  targets: CheckTarget[];
  kinds: readonly CheckKind[];
  /** Run only checks whose interval has passed or that were skipped last time. */
  dueOnly: boolean;
  /** Report `--verify-data` on a repository without a passphrase source as refused, not pass it over. */
  explicit: boolean;
  stateFile: string;
  /** Clock for schedule decisions and stored timestamps; tests pass a fixed time. */
  now: () => Date;
  progress: ProgressReporter;
  audit: CheckAuditSink | undefined;
  /** Receives one line per problem (failed check, overdue check, alert or audit error). */
  warn: (line: string) => void;
}

export interface OverdueCheck {
  repository: string;
  kind: CheckKind;
  lastSuccess: string | undefined;
}

export interface CheckRunSummary {
  results: CheckResult[];
  overdue: OverdueCheck[];
  /** Alert commands and audit appends that failed. */
  errors: string[];
  /** 1 when a check failed, timed out or was refused, a check is overdue, or an alert or audit write failed. */
  exitCode: 0 | 1;
}

/** Another `borg-gate check` holds the state file lock. */
export class CheckRunLockedError extends Error {
  override readonly name = 'CheckRunLockedError';
}

const PROBLEM_OUTCOMES = new Set(['failed', 'timeout', 'refused']);

/**
 * Creates the state file's directory, but not its parents: a mistyped --state must not leave
 * new directories around the file system. Throws CheckStateError.
 */
async function makeStateDirectory(stateFile: string): Promise<void> {
  const directory = dirname(stateFile);
  try {
    await mkdir(directory, { mode: 0o700 });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') {
      return;
    }
    const detail =
      code === 'ENOENT'
        ? `the parent of ${directory} does not exist; create it, or pass --state with a path in an existing directory`
        : `cannot create ${directory}: ${(error as Error).message}`;
    throw new CheckStateError(stateFile, detail, { cause: error });
  }
}

/**
 * Runs the selected checks one repository at a time, saving state after each, then
 * alerts on overdue checks. Holds a lock on the state file for the whole run.
 */
export async function runChecks(options: CheckRunOptions): Promise<CheckRunSummary> {
  await makeStateDirectory(options.stateFile);
  const release = await lockStateFile(options.stateFile, options.warn);
  try {
    const state = await readCheckState(options.stateFile);
    const summary: CheckRunSummary = { results: [], overdue: [], errors: [], exitCode: 0 };
    for (const [index, target] of options.targets.entries()) {
      for (const kind of options.kinds) {
        if (options.signal?.aborted === true) {
          break;
        }
        await runPlannedCheck(options, state, summary, target, kind, index);
      }
    }
    if (options.signal?.aborted !== true) {
      await alertOverdue(options, state, summary);
    }
    await writeCheckState(options.stateFile, state);
    const failed = summary.results.some((result) => PROBLEM_OUTCOMES.has(result.outcome));
    summary.exitCode = failed || summary.overdue.length > 0 || summary.errors.length > 0 ? 1 : 0;
    return summary;
  } finally {
    await release();
  }
}

/** Age after which a lock whose owner stopped refreshing it counts as abandoned. */
const LOCK_STALE_MS = 60_000;

async function lockStateFile(
  file: string,
  warn: (line: string) => void,
): Promise<() => Promise<void>> {
  try {
    return await lockfile.lock(file, {
      realpath: false,
      retries: 0,
      stale: LOCK_STALE_MS,
      // The default handler throws from a timer and kills the process in the middle of a check.
      onCompromised: (error) =>
        warn(`state file lock lost, another run may start: ${error.message}`),
    });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ELOCKED') {
      throw new CheckStateError(file, `cannot lock: ${(error as Error).message}`, { cause: error });
    }
    throw new CheckRunLockedError(
      `another borg-gate check is running (lock ${file}.lock); wait for it to finish, or remove the lock directory if no check runs`,
      { cause: error },
    );
  }
}

async function runPlannedCheck(
  options: CheckRunOptions,
  state: CheckState,
  summary: CheckRunSummary,
  target: CheckTarget,
  kind: CheckKind,
  index: number,
): Promise<void> {
  if (kind === 'verify_data' && !canVerifyData(target) && !options.explicit) {
    return;
  }
  const record = recordFor(state, target.repository, kind, options.now());
  if (options.dueOnly && !isDue(record, target, kind, options.now())) {
    return;
  }
  const label = `[${index + 1}/${options.targets.length}] ${target.repository} ${kind}`;
  options.progress.start(label);
  const result = await executeCheck(target, kind, options, options.progress, () =>
    notCreatedYet(target, kind, record),
  );
  options.progress.finish(`${label}: ${describeResult(result)}`);
  summary.results.push(result);
  // On a terminal the progress line above already shows the result.
  if (PROBLEM_OUTCOMES.has(result.outcome) && !options.progress.live) {
    options.warn(`${target.repository} ${kind}: ${describeResult(result)}`);
  }
  const alertKind = applyResult(record, result, options.now());
  if (alertKind !== undefined) {
    await alert(options, summary, target, kind, record, alertKind, result);
  }
  await writeCheckState(options.stateFile, state);
  if (options.audit !== undefined) {
    await auditSafely({ ...options, audit: options.audit }, summary, result);
  }
}

/**
 * Returns a `skipped` result for a repository that no client has created yet and that never
 * passed a check, so a new client does not raise a failure alert before its first backup.
 * A repository that passed once and is gone now still runs borg check, which fails and alerts.
 */
function notCreatedYet(
  target: CheckTarget,
  kind: CheckKind,
  record: CheckRecord,
): CheckResult | undefined {
  // borg init writes `config`; an empty directory made in advance by the admin has none.
  if (record.last_success !== undefined || existsSync(join(target.repository, 'config'))) {
    return undefined;
  }
  return {
    repository: target.repository,
    kind,
    outcome: 'skipped',
    message: 'no repository there yet (no client has run borg init); checked again on the next run',
    exitCode: null,
    durationMs: 0,
  };
}

/** Stores a result in its record and returns the alert it calls for, if any. */
export function applyResult(
  record: CheckRecord,
  result: CheckResult,
  now: Date,
): AlertKind | undefined {
  const wasAlerting = record.failing === true || record.last_overdue_alert !== undefined;
  record.last_run = now.toISOString();
  record.duration_ms = result.durationMs;
  record.outcome = result.outcome;
  record.message = result.message;
  record.retry = result.outcome === 'skipped' ? true : undefined;
  if (result.outcome === 'ok') {
    record.last_success = record.last_run;
    record.failing = undefined;
    record.last_overdue_alert = undefined;
    return wasAlerting ? 'recovery' : undefined;
  }
  if (PROBLEM_OUTCOMES.has(result.outcome)) {
    record.failing = true;
    return 'failure';
  }
  return undefined;
}

async function alertOverdue(options: CheckRunOptions, state: CheckState, summary: CheckRunSummary) {
  const now = options.now();
  for (const target of options.targets) {
    for (const kind of options.kinds) {
      const record = state.repositories[target.repository]?.[kind];
      if (record === undefined || !isOverdue(record, target, kind, now)) {
        continue;
      }
      summary.overdue.push({
        repository: target.repository,
        kind,
        lastSuccess: record.last_success,
      });
      options.warn(
        `${target.repository} ${kind}: overdue, last success ${record.last_success ?? 'never'}`,
      );
      if (shouldSendOverdueAlert(record, target, kind, now)) {
        record.last_overdue_alert = now.toISOString();
        await alert(options, summary, target, kind, record, 'overdue', undefined);
      }
    }
  }
}

async function alert(
  options: CheckRunOptions,
  summary: CheckRunSummary,
  target: CheckTarget,
  check: CheckKind,
  record: CheckRecord,
  kind: AlertKind,
  result: CheckResult | undefined,
): Promise<void> {
  if (target.alertCommand === undefined) {
    return;
  }
  const overdueMessage = `no successful check since ${record.last_success ?? record.first_seen}`;
  const details = buildAlert({
    kind,
    repository: target.repository,
    check,
    outcome: result?.outcome ?? record.outcome,
    message: result?.message ?? overdueMessage,
    last_run: record.last_run,
    last_success: record.last_success,
    time: options.now().toISOString(),
  });
  try {
    await sendAlert(target.alertCommand, details);
  } catch (error) {
    if (!(error instanceof AlertCommandError)) {
      throw error;
    }
    summary.errors.push(error.message);
    options.warn(`${target.repository}: ${error.message}`);
  }
}

async function auditSafely(
  options: CheckRunOptions & { audit: CheckAuditSink },
  summary: CheckRunSummary,
  result: CheckResult,
): Promise<void> {
  try {
    await auditCheckResult(options.audit, result);
  } catch (error) {
    const message = `audit log append failed: ${(error as Error).message}`;
    summary.errors.push(message);
    options.warn(message);
  }
}

function describeResult(result: CheckResult): string {
  const seconds = (result.durationMs / 1000).toFixed(1);
  const text = `${result.outcome} in ${seconds} s`;
  return result.message === '' ? text : `${text}: ${result.message}`;
}
