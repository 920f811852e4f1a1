import { type ChildProcess, spawn } from 'node:child_process';

/** Signals that sshd or an admin may send the gate; each is passed on to borg. */
const FORWARDED_SIGNALS: NodeJS.Signals[] = ['SIGTERM', 'SIGINT', 'SIGHUP'];

/** Search path for the borg child; the client's PATH is never used. */
const CHILD_PATH = '/usr/local/bin:/usr/bin:/bin';

/**
 * Builds borg's environment from scratch. SSH_ORIGINAL_COMMAND is left out because `borg serve`
 * parses it itself; LD_*, PYTHON* and BORG_* are left out so nothing from the session changes
 * how borg loads or where `~` points.
 */
export function childEnvironment(
  env: NodeJS.ProcessEnv,
  extra: Record<string, string> = {},
): NodeJS.ProcessEnv {
  const clean: NodeJS.ProcessEnv = { PATH: CHILD_PATH, LANG: 'C.UTF-8' };
  for (const name of ['HOME', 'USER', 'LOGNAME', 'TZ'] as const) {
    const value = env[name];
    if (value !== undefined) {
      clean[name] = value;
    }
  }
  return { ...clean, ...extra };
}

export interface BorgChild {
  process: ChildProcess;
  /** Resolves with borg's exit code, or 128 + signal number when a signal ended it. */
  exited: Promise<{ code: number; signal?: NodeJS.Signals }>;
}

/** Starts borg with an argv array (no shell), forwarding the gate's signals to it. */
export function spawnBorg(
  file: string,
  args: string[],
  options: { env: NodeJS.ProcessEnv; cwd: string; stdio: 'pipe' | 'inherit' },
): BorgChild {
  const child = spawn(file, args, {
    env: options.env,
    cwd: options.cwd,
    stdio: options.stdio === 'pipe' ? ['pipe', 'pipe', 'inherit'] : 'inherit',
  });
  const forward = (signal: NodeJS.Signals) => child.kill(signal);
  for (const signal of FORWARDED_SIGNALS) {
    process.on(signal, forward);
  }
  const exited = new Promise<{ code: number; signal?: NodeJS.Signals }>((resolve) => {
    const finish = (code: number, signal?: NodeJS.Signals) => {
      for (const name of FORWARDED_SIGNALS) {
        process.off(name, forward);
      }
      resolve(signal === undefined ? { code } : { code, signal });
    };
    child.once('error', () => finish(127));
    child.once('exit', (code, signal) => {
      finish(code ?? 128 + signalNumber(signal), signal ?? undefined);
    });
  });
  return { process: child, exited };
}

function signalNumber(signal: NodeJS.Signals | null): number {
  const numbers: Partial<Record<NodeJS.Signals, number>> = {
    SIGHUP: 1,
    SIGINT: 2,
    SIGKILL: 9,
    SIGTERM: 15,
  };
  return signal === null ? 0 : (numbers[signal] ?? 1);
}
