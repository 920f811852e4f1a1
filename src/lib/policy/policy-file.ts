import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import { PolicyError } from './errors.js';

// Synchronous, node:fs-only reading of the policy file, which `keys lookup` uses on every key
// sshd checks. source.ts reads whole files through the same open.

export const DEFAULT_POLICY_FILE = '/etc/borg-gate/policy.yaml';

/**
 * The policy's default audit_log, and serve's fallback log when its command line names none.
 * `keys write` leaves --audit-log out of an entry exactly when the two are equal.
 */
export const DEFAULT_AUDIT_LOG = '/var/log/borg-gate/audit.log';

/** Largest policy file accepted; 10,000 clients take about 2.4 MB. */
const MAX_POLICY_BYTES = 64 * 1024 * 1024;

/** A policy file opened for reading in chunks, after the owner, mode and size checks. */
export interface PolicyFileHandle {
  fd: number;
  file: string;
  size: number;
  uid: number;
  mode: number;
}

/** Size of the buffer that readPolicyChunks reuses for every read. */
const CHUNK_BYTES = 1024 * 1024;

/**
 * Opens a policy file without following symlinks and checks its owner, mode and size, without
 * reading it. Close the handle with closePolicyFile. Throws PolicyError.
 */
export function openPolicyFile(file: string): PolicyFileHandle {
  let fd: number;
  try {
    // O_NOFOLLOW: a symlink planted in place of the policy could point at attacker-controlled text.
    // O_NONBLOCK: a FIFO at the policy path would otherwise block every connection in open().
    fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (error) {
    throw new PolicyError(file, describeOpenError(error), { cause: error });
  }
  try {
    const info = fstatSync(fd);
    checkOwnership(file, info);
    checkSize(file, info.size);
    return { fd, file, size: info.size, uid: info.uid, mode: info.mode };
  } catch (error) {
    closeSync(fd);
    throw error;
  }
}

export function closePolicyFile(handle: PolicyFileHandle): void {
  closeSync(handle.fd);
}

/**
 * Passes the file's bytes from its start to `visit` in chunks of up to 1 MiB. Each chunk is a
 * view of one reused buffer, valid only during the call. Throws PolicyError when the file
 * grew past the size limit while it was read.
 */
export function readPolicyChunks(handle: PolicyFileHandle, visit: (chunk: Buffer) => void): void {
  const buffer = Buffer.allocUnsafe(CHUNK_BYTES);
  let position = 0;
  for (;;) {
    const count = readSync(handle.fd, buffer, 0, buffer.length, position);
    if (count === 0) {
      return;
    }
    position += count;
    checkSize(handle.file, position);
    visit(buffer.subarray(0, count));
  }
}

export function checkSize(file: string, size: number): void {
  if (size > MAX_POLICY_BYTES) {
    throw new PolicyError(file, `file is ${size} bytes, above the ${MAX_POLICY_BYTES} byte limit`);
  }
}

export function checkOwnership(
  file: string,
  info: { uid: number; mode: number; isFile(): boolean },
): void {
  if (!info.isFile()) {
    throw new PolicyError(file, 'not a regular file');
  }
  const uid = process.getuid?.();
  // A policy another user can edit would let that user grant themselves access.
  if (info.uid !== 0 && info.uid !== uid) {
    throw new PolicyError(
      file,
      `owned by uid ${info.uid}; it must be owned by root or the user running borg-gate`,
    );
  }
  if ((info.mode & 0o022) !== 0) {
    const mode = (info.mode & 0o777).toString(8).padStart(4, '0');
    throw new PolicyError(
      file,
      `mode ${mode} lets group or others write it; run: chmod go-w ${file}`,
    );
  }
}

export function describeOpenError(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') {
    return 'file not found; pass --policy FILE (admin commands also read BORG_GATE_POLICY, serve does not)';
  }
  if (code === 'ELOOP') {
    return 'is a symbolic link; point --policy at the real file';
  }
  if (code === 'EACCES') {
    return 'permission denied; the user running borg-gate must be able to read it';
  }
  return `cannot open: ${(error as Error).message}`;
}
