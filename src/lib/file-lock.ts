import { setTimeout as sleep } from 'node:timers/promises';
import lockfile from 'proper-lockfile';

export interface FileLockOptions {
  /** The lock directory, which proper-lockfile creates with mkdir(2). */
  lockPath: string;
  /** Milliseconds after which a lock left by a crashed process is taken over (at least 2000). */
  staleMs: number;
  /** Milliseconds to keep trying before the last error is thrown. */
  waitMs: number;
  /**
   * Returns true for errors worth another attempt; by default every error is. A caller whose
   * lock can only be busy passes a test for ELOCKED, so a permanent error fails at once.
   */
  retryable?: (error: unknown) => boolean;
}

/** A lock taken by takeFileLock. */
export interface HeldLock {
  release(): Promise<void>;
  /** Returns the error proper-lockfile reported if another process took the lock over. */
  lost(): Error | undefined;
}

/**
 * Takes the lock of `file` with proper-lockfile, retrying after any error until `waitMs` have
 * passed. The lock's mtime is refreshed while it is held,
 * so a lock left by a killed process is taken over after `staleMs`. The retries are timed here
 * and not by proper-lockfile 4.1, because it has the retry package compute and sort the delay
 * of every allowed retry before its first attempt. For a 30 s wait in 20 ms steps, that was
 * 1,500 delays and a few milliseconds of CPU on each audit append.
 * NOTE: mkdir locking is not reliable on NFS.
 */
export async function takeFileLock(file: string, options: FileLockOptions): Promise<HeldLock> {
  const giveUpAt = performance.now() + options.waitMs;
  let lost: Error | undefined;
  for (let attempt = 0; ; attempt++) {
    try {
      const release = await lockfile.lock(file, {
        lockfilePath: options.lockPath,
        realpath: false,
        stale: Math.max(options.staleMs, 2000),
        // The default throws from a timer and would crash the caller, so the loss is kept.
        onCompromised: (error) => {
          lost ??= error;
        },
      });
      return { release, lost: () => lost };
    } catch (error) {
      if (performance.now() >= giveUpAt || options.retryable?.(error) === false) {
        throw error;
      }
    }
    await sleep(retryDelayMs(attempt));
  }
}

/**
 * Returns a short randomized delay, 2 ms growing by a factor of 1.3 per attempt up to 25 ms,
 * times a random factor from 1 to 2, because an audit append holds its lock for a few
 * milliseconds.
 */
function retryDelayMs(attempt: number): number {
  return Math.min(2 * 1.3 ** attempt, 25) * (1 + Math.random());
}
