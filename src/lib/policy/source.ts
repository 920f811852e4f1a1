import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import { PolicyError } from './errors.js';

export const DEFAULT_POLICY_FILE = '/etc/borg-gate/policy.yaml';

/** Largest policy file accepted; 10,000 clients take about 2.4 MB. */
const MAX_POLICY_BYTES = 64 * 1024 * 1024;

/** The bytes of a policy file and the owner and mode they were read under. */
export interface PolicySource {
  bytes: Buffer;
  uid: number;
  mode: number;
}

/** Opens a policy file without following symlinks, checks owner, mode and size, and reads it. */
export async function readPolicySource(file: string): Promise<PolicySource> {
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    // O_NOFOLLOW: a symlink planted in place of the policy could point at attacker-controlled text.
    // O_NONBLOCK: a FIFO at the policy path would otherwise block every connection in open().
    handle = await open(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (error) {
    throw new PolicyError(file, describeOpenError(error), { cause: error });
  }
  try {
    const info = await handle.stat();
    checkOwnership(file, info);
    if (info.size > MAX_POLICY_BYTES) {
      throw new PolicyError(
        file,
        `file is ${info.size} bytes, above the ${MAX_POLICY_BYTES} byte limit`,
      );
    }
    return { bytes: await handle.readFile(), uid: info.uid, mode: info.mode };
  } finally {
    await handle.close();
  }
}

function checkOwnership(
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

function describeOpenError(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') {
    return 'file not found; pass --policy FILE or set BORG_GATE_POLICY';
  }
  if (code === 'ELOOP') {
    return 'is a symbolic link; point --policy at the real file';
  }
  if (code === 'EACCES') {
    return 'permission denied; the user running borg-gate must be able to read it';
  }
  return `cannot open: ${(error as Error).message}`;
}
