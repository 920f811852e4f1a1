import { type BigIntStats, fstatSync } from 'node:fs';

// A file stamp: the fstat fields that change whenever a file's bytes change. A lookup index records
// the policy's stamp next to its SHA-256, so `keys lookup` can compare one fstat instead of hashing
// the whole policy on every key sshd checks.
//
// Why the comparison is safe: the kernel sets ctime on every write, rename and chmod, and no
// system call lets a process set it. Replacing the file (rename over it) changes the inode, or
// at least the ctime. A stamp cannot see a second write within the clock tick of the change it
// recorded. Linux takes ctime from its coarse clock, whose tick is a few milliseconds, and some
// network file systems keep whole seconds. So a stamp is recorded only when the file's last
// change is at least STAMP_SETTLE_NS old, and any later write then carries a later ctime. Git
// applies the same rule to its index ("racy git").
// NOTE: a write through a shared mmap sets ctime only when it dirties a clean page (Linux), so
// a second change of a page that is still dirty keeps the stamp. Editors, sed -i and config
// management write with write() or rename(); a policy edited through mmap needs a new
// `keys write --index` before lookups see the edit.

/** Minimum age of a file's last change, in nanoseconds, before its stamp is recorded. */
export const STAMP_SETTLE_NS = 2_000_000_000n;

/** Hex digits per field; 16 covers any 64-bit value, including nanoseconds since 1970. */
const FIELD_DIGITS = 16;

/** Length of a formatted stamp: five fields and four spaces. */
export const STAMP_LENGTH = FIELD_DIGITS * 5 + 4;

/** The stamp written when none may be recorded; the hash alone decides then. */
export const NO_STAMP = Array.from({ length: 5 }, () => '0'.repeat(FIELD_DIGITS)).join(' ');

/** Formats device, inode, size, mtime and ctime (nanoseconds) as fixed-width hex fields. */
export function formatStamp(info: BigIntStats): string {
  return [info.dev, info.ino, info.size, info.mtimeNs, info.ctimeNs]
    .map((value) => BigInt.asUintN(64, value).toString(16).padStart(FIELD_DIGITS, '0'))
    .join(' ');
}

/**
 * Returns the stamp of bytes read between two fstat calls, or undefined when it must not be
 * recorded: the file changed while it was read, or its last change is younger than
 * STAMP_SETTLE_NS at `nowNs` (a time taken before the first fstat).
 */
export function settledStamp(
  before: BigIntStats,
  after: BigIntStats,
  nowNs: bigint,
): string | undefined {
  const stamp = formatStamp(before);
  if (formatStamp(after) !== stamp || nowNs - before.ctimeNs < STAMP_SETTLE_NS) {
    return undefined;
  }
  return stamp;
}

/** Wall-clock time in nanoseconds since 1970, the clock ctime is taken from. */
function wallClockNs(): bigint {
  return BigInt(Date.now()) * 1_000_000n;
}

/**
 * Runs `read` on the open file `fd` and, with `withStamp`, returns the file's stamp for the
 * bytes it read, or undefined when the stamp must not be recorded (settledStamp).
 */
export function readWithStamp<T>(
  fd: number,
  withStamp: boolean,
  read: () => T,
): { value: T; stamp: string | undefined } {
  if (!withStamp) {
    return { value: read(), stamp: undefined };
  }
  const now = wallClockNs();
  const before = fstatSync(fd, { bigint: true });
  const value = read();
  return { value, stamp: settledStamp(before, fstatSync(fd, { bigint: true }), now) };
}
