import { spawn } from 'node:child_process';
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

/** Time an alert command may run before it is killed. */
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
 * Runs the alert command (argv, no shell) with the alert as JSON on stdin.
 * Throws AlertCommandError when it cannot start, exits non-zero or runs over 60 s.
 */
export async function sendAlert(argv: readonly string[], alert: CheckAlert): Promise<void> {
  const [program, ...args] = argv as [string, ...string[]];
  const child = spawn(program, args, {
    env: alertEnv(alert),
    stdio: ['pipe', 'pipe', 'pipe'],
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
  const timer = setTimeout(() => child.kill('SIGKILL'), ALERT_TIMEOUT_MS);
  const result = await new Promise<{ code: number | null; signal: string | null; error?: Error }>(
    (resolve) => {
      child.once('error', (error) => resolve({ code: null, signal: null, error }));
      child.once('close', (code, signal) => resolve({ code, signal }));
    },
  );
  clearTimeout(timer);
  if (result.error !== undefined) {
    throw new AlertCommandError(`alert command ${program} cannot run: ${result.error.message}`, {
      cause: result.error,
    });
  }
  if (result.code !== 0) {
    const status = result.signal === null ? `exit code ${result.code}` : `signal ${result.signal}`;
    const detail = collapseMessage(output);
    throw new AlertCommandError(
      `alert command ${program} failed with ${status}${detail === '' ? '' : `: ${detail}`}`,
    );
  }
}
