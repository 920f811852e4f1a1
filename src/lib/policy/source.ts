import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import { PolicyError } from './errors.js';
import { checkOwnership, checkSize, describeOpenError } from './policy-file.js';

export {
  closePolicyFile,
  DEFAULT_POLICY_FILE,
  openPolicyFile,
  type PolicyFileHandle,
  readPolicyChunks,
} from './policy-file.js';

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
    checkSize(file, info.size);
    return { bytes: await handle.readFile(), uid: info.uid, mode: info.mode };
  } finally {
    await handle.close();
  }
}
