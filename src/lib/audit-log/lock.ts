import { setTimeout as sleep } from 'node:timers/promises';
import lockfile from 'proper-lockfile';
import { AuditLogError, errorCode } from './errors.js';

export interface LockOptions {
  /**
   * Milliseconds after which a lock left by a crashed process is taken over
   * (default 5000; proper-lockfile allows no less than 2000).
   */
  lockStaleMs?: number;
  /** Approximate milliseconds to wait for the lock before giving up (default 30000). */
  lockWaitMs?: number;
}

/** Path of the lock directory next to the log (proper-lockfile locks with mkdir). */
export function lockPath(logPath: string): string {
  return `${logPath}.lock`;
}

/**
 * Runs `critical` while holding the append lock of `logPath`. The lock is a directory
 * created with mkdir(2), atomic on local file systems, and its mtime is refreshed while
 * held, so a lock left by a killed process is taken over after `lockStaleMs`.
 * NOTE: mkdir locking is not reliable on NFS; keep the audit log on a local file system.
 */
export async function withAppendLock(
  logPath: string,
  options: LockOptions,
  critical: () => void,
): Promise<void> {
  const stale = Math.max(options.lockStaleMs ?? 5000, 2000);
  const deadline = options.lockWaitMs ?? 30_000;
  let compromised: Error | undefined;
  let release: () => Promise<void>;
  try {
    release = await lockWithRetries(logPath, stale, deadline, (error) => {
      compromised = error;
    });
  } catch (error) {
    throw new AuditLogError(
      logPath,
      `can not take the lock ${lockPath(logPath)} (${errorCode(error) ?? 'error'}): ` +
        'check that the directory is writable; a lock older than ' +
        `${stale} ms is taken over automatically`,
      { cause: error },
    );
  }
  try {
    critical();
  } finally {
    await release().catch(() => undefined);
  }
  if (compromised !== undefined) {
    throw new AuditLogError(
      logPath,
      'the append lock was taken over while held: run `borg-gate audit verify`',
      { cause: compromised },
    );
  }
}

/**
 * Takes the lock with proper-lockfile, retrying after any error until `waitMs` have passed.
 * The retries are timed here and not by proper-lockfile 4.1, because it has the retry package
 * compute and sort the delay of every allowed retry before its first attempt. For a 30 s wait
 * in 20 ms steps, that was 1,500 delays and a few milliseconds of CPU on each append.
 */
async function lockWithRetries(
  logPath: string,
  stale: number,
  waitMs: number,
  onCompromised: (error: Error) => void,
): Promise<() => Promise<void>> {
  const giveUpAt = performance.now() + waitMs;
  for (let attempt = 0; ; attempt++) {
    try {
      // The default onCompromised throws from a timer and would crash the caller.
      return await lockfile.lock(logPath, {
        lockfilePath: lockPath(logPath),
        realpath: false,
        stale,
        onCompromised,
      });
    } catch (error) {
      if (performance.now() >= giveUpAt) {
        throw error;
      }
    }
    await sleep(retryDelayMs(attempt));
  }
}

/**
 * Returns a short randomized delay, 2 ms growing by a factor of 1.3 per attempt up to 25 ms,
 * times a random factor from 1 to 2, because an append holds the lock for a few milliseconds.
 */
function retryDelayMs(attempt: number): number {
  return Math.min(2 * 1.3 ** attempt, 25) * (1 + Math.random());
}
