import { type HeldLock, takeFileLock } from '../file-lock.js';
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
  let lock: HeldLock;
  try {
    lock = await takeFileLock(logPath, {
      lockPath: lockPath(logPath),
      staleMs: stale,
      waitMs: deadline,
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
    await lock.release().catch(() => undefined);
  }
  const lost = lock.lost();
  if (lost !== undefined) {
    throw new AuditLogError(
      logPath,
      'the append lock was taken over while held: run `borg-gate audit verify`',
      { cause: lost },
    );
  }
}
