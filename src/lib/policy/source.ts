import { readFileSync } from 'node:fs';
import { readWithStamp } from './file-stamp.js';
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
  /** The file's stamp (file-stamp.ts) when it was asked for and may be recorded. */
  stamp?: string;
}

/**
 * Opens a policy file with openPolicyFile's checks and reads all of it. With `withStamp`, also
 * returns the file's stamp when the bytes are settled (file-stamp.ts). Throws PolicyError.
 */
export async function readPolicySource(file: string, withStamp = false): Promise<PolicySource> {
  const handle = openPolicyFile(file);
  try {
    const read = readWithStamp(handle.fd, withStamp, () => readFileSync(handle.fd));
    const bytes = read.value;
    // The file may have grown since openPolicyFile checked its size.
    checkSize(file, bytes.length);
    const source: PolicySource = { bytes, uid: handle.uid, mode: handle.mode };
    if (withStamp) {
      source.stamp = read.stamp;
    }
    return source;
  } finally {
    closePolicyFile(handle);
  }
}
