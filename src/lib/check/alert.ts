import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { homedir, hostname } from 'node:os';
import type { CheckOutcome } from './state.js';
import type { CheckKind } from './targets.js';
import { collapseMessage } from './text.js';

export type AlertKind = 'failure' | 'overdue' | 'recovery';

/** Details of one alert; also the JSON document the alert command reads on stdin. */
export interface CheckAlert {
  kind: AlertKind;
  repository: string;
  check: CheckKind;
  outcome: CheckOutcome | undefined;
  message: string;
  last_run: string | undefined;
  last_success: string | undefined;
  time: string;
  host: string;
}

/** Time an alert command may run before its process group is killed. */
const ALERT_TIMEOUT_MS = 60_000;

/** Maximum characters of alert command output kept for the error message. */
const MAX_OUTPUT = 1000;

/** The alert command could not run, timed out or exited non-zero. */
export class AlertCommandError extends Error {
  override readonly name = 'AlertCommandError';
}

/** Builds the alert; `host` lets one mailbox tell several backup servers apart. */
export function buildAlert(fields: Omit<CheckAlert, 'host'>): CheckAlert {
  return { ...fields, message: collapseMessage(fields.message), host: hostname() };
}

/** Environment of the alert command: a clean base plus one BORG_GATE_ALERT_* variable per field. */
export function alertEnv(alert: CheckAlert): Record<string, string> {
  return {
    HOME: homedir(),
    PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    LANG: 'C.UTF-8',
    BORG_GATE_ALERT_KIND: alert.kind,
    BORG_GATE_ALERT_REPOSITORY: alert.repository,
    BORG_GATE_ALERT_CHECK: alert.check,
    BORG_GATE_ALERT_OUTCOME: alert.outcome ?? '',
    BORG_GATE_ALERT_MESSAGE: alert.message,
    BORG_GATE_ALERT_LAST_RUN: alert.last_run ?? '',
    BORG_GATE_ALERT_LAST_SUCCESS: alert.last_success ?? '',
    BORG_GATE_ALERT_TIME: alert.time,
    BORG_GATE_ALERT_HOST: alert.host,
  };
}

/**
 * Runs the alert command (argv, no shell) with the alert as JSON on stdin. Throws
 * AlertCommandError when it cannot start, exits non-zero or runs over `timeoutMs`.
 */
export async function sendAlert(
  argv: readonly string[],
  alert: CheckAlert,
  timeoutMs = ALERT_TIMEOUT_MS,
): Promise<void> {
  const [program, ...args] = argv as [string, ...string[]];
  // detached: the command gets its own process group, so a timeout also kills its children.
  const child = spawn(program, args, {
    env: alertEnv(alert),
    stdio: ['pipe', 'pipe', 'pipe'],
    detached: true,
  });
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString('utf8')).slice(-MAX_OUTPUT);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  // An alert command that ignores stdin closes the pipe early; that is not an error.
  child.stdin.on('error', () => {});
  child.stdin.end(`${JSON.stringify(alert)}\n`);

  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    killGroup(child);
  }, timeoutMs);
  const result = await waitForAlertCommand(child);
  clearTimeout(timer);

  const subject = `alert command ${program}`;
  if (result.error !== undefined) {
    throw new AlertCommandError(`${subject} cannot run: ${result.error.message}`, {
      cause: result.error,
    });
  }
  if (timedOut) {
    throw new AlertCommandError(`${subject} timed out after ${timeoutMs / 1000} s and was killed`);
  }
  if (result.code !== 0) {
    const status = result.signal === null ? `exit code ${result.code}` : `signal ${result.signal}`;
    const detail = collapseMessage(output);
    throw new AlertCommandError(
      `${subject} failed with ${status}${detail === '' ? '' : `: ${detail}`}`,
    );
  }
}

/** Time to collect output after the command exits, in case a child it left keeps the pipes open. */
const OUTPUT_DRAIN_MS = 1000;

interface AlertExit {
  code: number | null;
  signal: string | null;
  error?: Error;
}

function waitForAlertCommand(child: ChildProcessWithoutNullStreams): Promise<AlertExit> {
  return new Promise((resolve) => {
    child.once('error', (error) => resolve({ code: null, signal: null, error }));
    child.once('exit', (code, signal) => {
      const drained = setTimeout(() => {
        child.stdout.destroy();
        child.stderr.destroy();
        resolve({ code, signal });
      }, OUTPUT_DRAIN_MS);
      child.once('close', () => {
        clearTimeout(drained);
        resolve({ code, signal });
      });
    });
  });
}

function killGroup(child: ChildProcessWithoutNullStreams): void {
  try {
    process.kill(-child.pid!, 'SIGKILL');
  } catch {
    // The group is already gone.
  }
}
