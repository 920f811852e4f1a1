import { readFileSync } from 'node:fs';
import { checkSize, closePolicyFile, openPolicyFile } from './policy-file.js';

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

/** Opens a policy file with openPolicyFile's checks and reads all of it. Throws PolicyError. */
export async function readPolicySource(file: string): Promise<PolicySource> {
  const handle = openPolicyFile(file);
  try {
    const bytes = readFileSync(handle.fd);
    // The file may have grown since openPolicyFile checked its size.
    checkSize(file, bytes.length);
    return { bytes, uid: handle.uid, mode: handle.mode };
  } finally {
    closePolicyFile(handle);
  }
}
