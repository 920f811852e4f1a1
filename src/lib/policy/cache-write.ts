import { randomBytes } from 'node:crypto';
import {
  closeSync,
  constants,
  fchmodSync,
  fsyncSync,
  openSync,
  renameSync,
  unlinkSync,
  writevSync,
} from 'node:fs';

/** Writes `parts` to `file` through a temp file and a rename, so a reader never sees half. */
export function writeAtomically(file: string, parts: Buffer[], mode: number): void {
  const temp = `${file}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  const fd = openSync(
    temp,
    constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
    0o600,
  );
  let closed = false;
  try {
    // fchmod, not the open mode, so the umask cannot hide the cache from the reading user.
    fchmodSync(fd, mode);
    writeAll(fd, parts);
    fsyncSync(fd);
    closed = true;
    closeSync(fd);
    renameSync(temp, file);
  } catch (error) {
    if (!closed) {
      closeSync(fd);
    }
    unlinkSync(temp);
    throw error;
  }
}

/** Writes the parts in order with writev, resuming after a short write. */
function writeAll(fd: number, parts: Buffer[]): void {
  let pending = parts.filter((part) => part.length > 0);
  while (pending.length > 0) {
    let written = writevSync(fd, pending);
    if (written === 0) {
      throw new Error(`writev wrote no bytes of ${pending.length} pending buffers`);
    }
    let done = 0;
    while (done < pending.length && written >= pending[done]!.length) {
      written -= pending[done]!.length;
      done += 1;
    }
    pending = pending.slice(done);
    if (written > 0) {
      pending[0] = pending[0]!.subarray(written);
    }
  }
}
