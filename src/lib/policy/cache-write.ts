import { randomBytes } from 'node:crypto';
import {
  closeSync,
  constants,
  fchmodSync,
  fsyncSync,
  openSync,
  renameSync,
  unlinkSync,
  writeSync,
} from 'node:fs';

/** Writes `bytes` to `file` through a temp file and a rename, so a reader never sees half. */
export function writeAtomically(file: string, bytes: Buffer, mode: number): void {
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
    writeAll(fd, bytes);
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

function writeAll(fd: number, bytes: Buffer): void {
  let offset = 0;
  while (offset < bytes.length) {
    offset += writeSync(fd, bytes, offset);
  }
}
