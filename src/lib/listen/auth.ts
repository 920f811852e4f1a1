import type { AuthContext, PublicKeyAuthContext } from 'ssh2';
import ssh2 from 'ssh2';
import { fingerprintOf } from '../session/facts.js';
import type { PolicyKeyIndex } from './key-index.js';

/** Authentication progress of one connection. */
export interface AuthState {
  /** Requests rejected so far, `none` excluded because every OpenSSH client sends it first. */
  failures: number;
  /** User name the client requested. The server has no accounts, so it is only logged. */
  username?: string;
  /** Fingerprint of the last key offered, for the log of a refused connection. */
  lastOfferedKey?: string;
  /** Set once a signature has been verified: the client id and `type base64` of that key. */
  clientId?: string;
  authenticatedKey?: string;
}

/**
 * Decides one authentication request. Only public keys listed in the policy are accepted, and only
 * after their signature over this session's id verifies; the client id comes from that key.
 */
export async function authenticate(
  ctx: AuthContext,
  state: AuthState,
  keys: PolicyKeyIndex,
): Promise<boolean> {
  state.username = ctx.username;
  if (ctx.method !== 'publickey') {
    if (ctx.method !== 'none') {
      state.failures += 1;
    }
    ctx.reject(['publickey']);
    return false;
  }
  const identity = `${ctx.key.algo} ${ctx.key.data.toString('base64')}`;
  state.lastOfferedKey = fingerprintOf(identity);
  const clientId = await keys.lookup(identity);
  if (clientId === undefined) {
    return rejectKey(ctx, state);
  }
  if (ctx.signature === undefined) {
    // A query without signature: the reply (PK_OK) only says the key would be accepted.
    ctx.accept();
    return false;
  }
  if (!signatureVerifies(ctx, identity)) {
    return rejectKey(ctx, state);
  }
  state.clientId = clientId;
  state.authenticatedKey = identity;
  ctx.accept();
  return true;
}

function rejectKey(ctx: PublicKeyAuthContext, state: AuthState): false {
  state.failures += 1;
  ctx.reject(['publickey']);
  return false;
}

function signatureVerifies(ctx: PublicKeyAuthContext, identity: string): boolean {
  // RSA signatures with SHA-1 (plain "ssh-rsa") are rejected, as OpenSSH 8.8 and later do.
  if (ctx.key.algo === 'ssh-rsa' && ctx.hashAlgo === undefined) {
    return false;
  }
  // TODO: FIDO keys (sk-ssh-ed25519@openssh.com, sk-ecdsa-...) always fail here because ssh2
  // 1.17 cannot parse them, so clients with those keys need sshd and `serve`.
  const parsed = ssh2.utils.parseKey(identity);
  if (parsed instanceof Error || Array.isArray(parsed) || ctx.blob === undefined) {
    return false;
  }
  // NOTE: ssh2 builds ctx.blob from this session's id and the request, so a signature replayed
  // from another session does not verify.
  return parsed.verify(ctx.blob, ctx.signature!, ctx.hashAlgo) === true;
}
