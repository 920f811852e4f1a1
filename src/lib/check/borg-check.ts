import { type ChildProcess, type StdioOptions, spawn } from 'node:child_process';
import { homedir } from 'node:os';
import { createInterface } from 'node:readline';
import type { PassphraseDelivery } from './passphrase.js';
import type { CheckKind } from './targets.js';
import { collapseMessage } from './text.js';

/** Time borg gets to release its lock after SIGTERM before SIGKILL follows. */
const KILL_GRACE_MS = 30_000;

/** borg's error and warning lines a result message keeps: the first ones name the cause, the last the verdict. */
const KEPT_FIRST_MESSAGES = 3;
const KEPT_LAST_MESSAGES = 2;

export interface BorgCheckRequest {
  borgBinary: string;
  repository: string;
  kind: CheckKind;
  lockWaitSeconds: number;
  timeoutMs: number;
  /** borg's config, cache, security and keys directory (BORG_BASE_DIR). */
  baseDir: string;
  passphrase: PassphraseDelivery;
  /** The repository was declared unencrypted, so borg may open it without asking. */
  unencrypted: boolean;
  /** Aborting stops borg with SIGTERM (for example when borg-gate itself gets SIGINT). */
  signal?: AbortSignal;
  /** Receives borg's progress lines; undefined runs borg without `--progress`. */
  onProgress: ((text: string) => void) | undefined;
}

export interface BorgCheckResult {
  outcome: 'ok' | 'failed' | 'skipped' | 'timeout';
  message: string;
  exitCode: number | null;
  durationMs: number;
}

/** Builds borg's argv; `--log-json` makes lock timeouts and progress machine-readable on stderr. */
export function borgCheckArgv(request: BorgCheckRequest): string[] {
  return [
    '--log-json',
    ...(request.onProgress === undefined ? [] : ['--progress']),
    '--lock-wait',
    String(request.lockWaitSeconds),
    'check',
    request.kind === 'repository_only' ? '--repository-only' : '--verify-data',
    '--',
    request.repository,
  ];
}

/**
 * Builds borg's whole environment: nothing is inherited, so a BORG_PASSPHRASE or
 * BORG_REPO in the caller's environment cannot change what is checked or leak to borg.
 */
export function borgCheckEnv(request: BorgCheckRequest): Record<string, string> {
  return {
    HOME: homedir(),
    PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    LANG: 'C.UTF-8',
    BORG_BASE_DIR: request.baseDir,
    // No one can reply to a prompt here, so a moved or unknown repository fails instead of waiting.
    BORG_RELOCATED_REPO_ACCESS_IS_OK: 'no',
    BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK: request.unencrypted ? 'yes' : 'no',
    BORG_CHECK_I_KNOW_WHAT_I_AM_DOING: 'NO',
    ...request.passphrase.env,
  };
}

/** Runs one `borg check` and classifies the result. borg's failures, and a missing binary, become a result. */
export async function runBorgCheck(request: BorgCheckRequest): Promise<BorgCheckResult> {
  const started = performance.now();
  const child = spawnBorg(request);
  const stderr = readBorgStderr(child, request.onProgress);

  let stopReason: StopReason | undefined;
  let killTimer: NodeJS.Timeout | undefined;
  // SIGTERM lets borg release its lock; SIGKILL follows only if it does not exit in time.
  const stop = (reason: StopReason) => {
    stopReason ??= reason;
    killGroup(child.pid, 'SIGTERM');
    killTimer ??= setTimeout(() => killGroup(child.pid, 'SIGKILL'), KILL_GRACE_MS);
  };
  const timer = setTimeout(() => stop('timeout'), request.timeoutMs);
  const onAbort = () => stop('interrupted');
  request.signal?.addEventListener('abort', onAbort, { once: true });

  const exit = await waitForExit(child);
  clearTimeout(timer);
  clearTimeout(killTimer);
  request.signal?.removeEventListener('abort', onAbort);
  await stderr.done;

  const durationMs = Math.round(performance.now() - started);
  const facts = { stopReason, lockTimeout: stderr.lockTimeout(), durationMs, request };
  return classify(exit, { ...facts, messages: stderr.messages });
}

type StopReason = 'timeout' | 'interrupted';

function spawnBorg(request: BorgCheckRequest): ChildProcess {
  const usesPipe = request.passphrase.pipeText !== undefined;
  const stdio: StdioOptions = ['ignore', 'ignore', 'pipe', usesPipe ? 'pipe' : 'ignore'];
  // detached: borg gets its own session, so it has no terminal to prompt on and can be killed as a group.
  const child = spawn(request.borgBinary, borgCheckArgv(request), {
    env: borgCheckEnv(request),
    stdio,
    detached: true,
  });
  if (usesPipe) {
    const pipe = child.stdio[3] as NodeJS.WritableStream;
    // borg closes fd 3 without reading it when it fails before needing the key.
    pipe.on('error', () => {});
    pipe.end(request.passphrase.pipeText ?? '');
  }
  return child;
}

/** Follows borg's `--log-json` stderr: progress goes to the callback, errors are kept. */
function readBorgStderr(child: ChildProcess, onProgress: ((text: string) => void) | undefined) {
  const messages = new MessageDigest();
  let lockTimeout = false;
  const lines = createInterface({ input: child.stderr! });
  const done = new Promise((resolve) => lines.once('close', resolve));
  lines.on('line', (line) => {
    const event = parseLogLine(line);
    if (event.progress !== undefined) {
      onProgress?.(event.progress);
    } else if (event.message !== undefined) {
      lockTimeout ||= event.msgid === 'LockTimeout';
      messages.add(event.message);
    }
  });
  return { done, messages, lockTimeout: () => lockTimeout };
}

interface ExitFacts {
  code: number | null;
  signal: NodeJS.Signals | null;
  spawnError: Error | undefined;
}

function waitForExit(child: ChildProcess): Promise<ExitFacts> {
  return new Promise((resolve) => {
    let spawnError: Error | undefined;
    child.once('error', (error) => {
      spawnError = error;
    });
    child.once('close', (code, signal) => resolve({ code, signal, spawnError }));
  });
}

function classify(
  exit: ExitFacts,
  facts: {
    stopReason: StopReason | undefined;
    lockTimeout: boolean;
    messages: MessageDigest;
    durationMs: number;
    request: BorgCheckRequest;
  },
): BorgCheckResult {
  const base = { exitCode: exit.code, durationMs: facts.durationMs };
  const detail = collapseMessage(facts.messages.text());
  if (exit.spawnError !== undefined) {
    const message = `cannot run ${facts.request.borgBinary}: ${exit.spawnError.message}`;
    return { ...base, outcome: 'failed', message };
  }
  if (facts.stopReason === 'interrupted') {
    const message = 'interrupted before borg check finished; retried on the next run';
    return { ...base, outcome: 'skipped', message };
  }
  if (facts.stopReason === 'timeout') {
    const seconds = Math.round(facts.request.timeoutMs / 1000);
    return {
      ...base,
      outcome: 'timeout',
      message: `borg check stopped after the ${seconds} s timeout`,
    };
  }
  if (facts.lockTimeout) {
    const message = `repository locked by another borg process for ${facts.request.lockWaitSeconds} s; retried on the next run`;
    return { ...base, outcome: 'skipped', message };
  }
  if (exit.code === 0) {
    return { ...base, outcome: 'ok', message: '' };
  }
  const status = exit.signal === null ? `exit code ${exit.code}` : `signal ${exit.signal}`;
  return {
    ...base,
    outcome: 'failed',
    message: detail === '' ? `borg ${status}` : `borg ${status}: ${detail}`,
  };
}

function killGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (pid === undefined) {
    return;
  }
  try {
    process.kill(-pid, signal);
  } catch {
    // The group is already gone.
  }
}

interface LogEvent {
  progress?: string;
  message?: string;
  msgid?: string;
}

/** Reads one line of `borg --log-json` output; a line that is not JSON counts as a message. */
export function parseLogLine(line: string): LogEvent {
  let data: Record<string, unknown>;
  try {
    data = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return { message: line };
  }
  if (typeof data !== 'object' || data === null) {
    return { message: line };
  }
  const text = typeof data.message === 'string' ? data.message : '';
  if (data.type === 'progress_percent' || data.type === 'progress_message') {
    return { progress: text };
  }
  if (
    data.type === 'log_message' &&
    (data.levelname === 'ERROR' || data.levelname === 'WARNING' || data.levelname === 'CRITICAL')
  ) {
    return { message: text, msgid: typeof data.msgid === 'string' ? data.msgid : undefined };
  }
  return {};
}

/** Keeps the first and last few of borg's messages and counts the ones in between. */
class MessageDigest {
  private readonly first: string[] = [];
  private last: string[] = [];
  private dropped = 0;

  add(message: string): void {
    if (this.first.length < KEPT_FIRST_MESSAGES) {
      this.first.push(message);
      return;
    }
    this.last.push(message);
    if (this.last.length > KEPT_LAST_MESSAGES) {
      this.last = this.last.slice(1);
      this.dropped += 1;
    }
  }

  text(): string {
    const gap = this.dropped > 0 ? [`(${this.dropped} more)`] : [];
    return [...this.first, ...gap, ...this.last].join(' | ');
  }
}
