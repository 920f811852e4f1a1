import { readFileSync } from 'node:fs';
import { blobFingerprint } from '../authorized-keys/fingerprint.js';

/** Connection details that sshd passes to the forced command. */
export interface ConnectionFacts {
  clientIp?: string;
  clientPort?: number;
  /** The raw SSH_ORIGINAL_COMMAND, untrusted. */
  command?: string;
  /**
   * `type base64` of the key that authenticated, when sshd has `ExposeAuthInfo yes`;
   * null when SSH_USER_AUTH is set but names no readable publickey line.
   */
  authenticatedKey?: string | null;
}

/** Reads SSH_CONNECTION, SSH_ORIGINAL_COMMAND and SSH_USER_AUTH from sshd's environment. */
export function connectionFactsFromEnv(env: NodeJS.ProcessEnv): ConnectionFacts {
  const [ip, port] = (env.SSH_CONNECTION ?? '').split(' ');
  const portNumber = Number(port);
  return {
    clientIp: ip === '' ? undefined : ip,
    clientPort: Number.isInteger(portNumber) && portNumber > 0 ? portNumber : undefined,
    command: env.SSH_ORIGINAL_COMMAND,
    authenticatedKey: readAuthenticatedKey(env.SSH_USER_AUTH),
  };
}

/**
 * Returns the public key from sshd's ExposeAuthInfo file. The file lists each successful
 * method, one per line, e.g. `publickey ssh-ed25519 AAAA...`; the last publickey line wins.
 */
function readAuthenticatedKey(file: string | undefined): string | null | undefined {
  if (file === undefined || file === '') {
    return undefined;
  }
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return null;
  }
  let key: string | null = null;
  for (const line of text.split('\n')) {
    const words = line.trim().split(/\s+/);
    if (words[0] === 'publickey' && words.length >= 3) {
      key = `${words[1]} ${words[2]}`;
    }
  }
  return key;
}

/** SHA256 fingerprint of a `type base64` key, in the form `ssh-keygen -lf` prints. */
export function fingerprintOf(key: string): string | undefined {
  const blob = key.split(' ')[1];
  if (blob === undefined) {
    return undefined;
  }
  return blobFingerprint(Buffer.from(blob, 'base64'));
}
