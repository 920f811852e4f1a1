import { fstatSync } from 'node:fs';
import {
  checkGateCommand,
  defaultGatePath,
  type GateCommand,
} from '../../lib/authorized-keys/gate-command.js';
import { closeIndex, openIndex, searchIndex } from '../../lib/authorized-keys/lookup-index.js';
import { policyMayListKey } from '../../lib/authorized-keys/policy-scan.js';
import { formatStamp } from '../../lib/policy/file-stamp.js';
import {
  closePolicyFile,
  DEFAULT_POLICY_FILE,
  openPolicyFile,
  type PolicyFileHandle,
} from '../../lib/policy/policy-file.js';

// sshd runs this for every key a client offers, so the modules above stay small: the YAML
// parser, zod and the key parser are imported only when the policy must be parsed.

/** An OpenSSH key blob in base64; anything else cannot be listed in a policy. */
const KEY_BASE64 = /^[A-Za-z0-9+/]{16,}={0,2}$/;

export interface LookupOptions {
  policyFile: string;
  gatePath?: string;
  /** When set, lookups for any other user print nothing. */
  user?: string;
  /** Lookup index written by `keys write --index`, used while it matches the policy text. */
  indexFile?: string;
  requestUser: string;
  keyType: string;
  keyBase64: string;
}

/**
 * Parses `keys lookup [--policy FILE] [--gate-path PATH] [--user NAME] [--index FILE] USER TYPE
 * BASE64` by hand,
 * because sshd runs it on every authentication attempt and yargs costs more than the lookup.
 */
export function parseLookupArgv(args: string[]): LookupOptions | string {
  const values = new Map<string, string>();
  const positional: string[] = [];
  for (let index = 0; index < args.length; index += 1) {
    const word = args[index]!;
    if (['--policy', '--gate-path', '--user', '--index'].includes(word)) {
      const value = args[index + 1];
      if (value === undefined) {
        return `${word} needs a value`;
      }
      values.set(word, value);
      index += 1;
    } else if (word.startsWith('--')) {
      return `unknown keys lookup option "${word}"`;
    } else {
      positional.push(word);
    }
  }
  if (positional.length !== 3) {
    return 'usage: borg-gate keys lookup [--policy FILE] [--gate-path PATH] [--user NAME] [--index FILE] USER TYPE BASE64';
  }
  const [requestUser, keyType, keyBase64] = positional as [string, string, string];
  return {
    // BORG_GATE_POLICY is ignored, as in serve: the forced command must name the same policy.
    policyFile: values.get('--policy') ?? DEFAULT_POLICY_FILE,
    gatePath: values.get('--gate-path'),
    user: values.get('--user'),
    indexFile: values.get('--index'),
    requestUser,
    keyType,
    keyBase64,
  };
}

/**
 * Prints the authorized_keys entry for one offered key, or nothing when the policy has no active
 * entry for it. sshd ignores the output when the exit code is not 0, so errors exit 1.
 */
export async function runLookup(
  options: LookupOptions,
  now = new Date(),
): Promise<string | undefined> {
  if (options.user !== undefined && options.user !== options.requestUser) {
    return undefined;
  }
  const command = {
    gatePath: options.gatePath ?? defaultGatePath(),
    policyFile: options.policyFile,
  };
  checkGateCommand(command);
  // The loader's own checks: no symlinks, owner and mode checked, errors that name the fix.
  const handle = openPolicyFile(options.policyFile);
  try {
    if (!KEY_BASE64.test(options.keyBase64)) {
      return undefined;
    }
    if (options.indexFile !== undefined) {
      const found = await searchIndexFor(handle, options.indexFile, command, options);
      if (found !== 'stale') {
        return found;
      }
    } else if (!policyMayListKey(handle, options.keyBase64)) {
      // Most offered keys are in no policy entry, and a byte search settles those without a parse.
      return undefined;
    }
  } finally {
    closePolicyFile(handle);
  }
  return lookupInPolicy(options, command, now);
}

/**
 * Looks the key up in the index, which counts only while it was built from exactly these policy
 * bytes. When the policy file's stamp equals the one the index recorded, one fstat proves that.
 * Otherwise a key the index lists costs one hash of the policy, and a key it lacks one byte
 * search, unless the policy text mentions that key and so the hash must decide.
 */
async function searchIndexFor(
  handle: PolicyFileHandle,
  indexFile: string,
  command: GateCommand,
  options: LookupOptions,
): Promise<string | undefined | 'stale'> {
  const index = openIndex(indexFile);
  let match: ReturnType<typeof searchIndex>;
  try {
    match = searchIndex(index, command, options.keyType, options.keyBase64);
  } finally {
    closeIndex(index);
  }
  if (match !== 'stale' && match.policyStamp !== undefined) {
    const stamp = formatStamp(fstatSync(handle.fd, { bigint: true }));
    if (stamp === match.policyStamp) {
      return match.entry;
    }
  }
  const listed = match !== 'stale' && match.entry !== undefined;
  if (!listed && !policyMayListKey(handle, options.keyBase64)) {
    return undefined;
  }
  if (match === 'stale') {
    return 'stale';
  }
  const { hashPolicyFile } = await import('../../lib/authorized-keys/policy-hash.js');
  return hashPolicyFile(handle) === match.policyHash ? match.entry : 'stale';
}

/**
 * Reads the validated policy, from its cache when that is current, then formats the entry for
 * the key if it is active.
 */
async function lookupInPolicy(
  options: LookupOptions,
  command: GateCommand,
  now: Date,
): Promise<string | undefined> {
  const [{ loadPolicyClients }, { keyIdentity }, { buildRecord }, { formatEntry }] =
    await Promise.all([
      import('../../lib/policy/load.js'),
      import('../../lib/policy/cross-checks.js'),
      import('../../lib/authorized-keys/key-records.js'),
      import('../../lib/authorized-keys/entry.js'),
    ]);
  const policy = await loadPolicyClients(options.policyFile);
  const file = policy.file;
  const identity = `${options.keyType} ${options.keyBase64}`;
  let clientIndex = -1;
  try {
    for (const client of policy.clients) {
      clientIndex += 1;
      for (const [keyIndex, entry] of client.keys.entries()) {
        if (keyIdentity(typeof entry === 'string' ? entry : entry.key) !== identity) {
          continue;
        }
        const label = `${file}: clients[${clientIndex}].keys[${keyIndex}] (client "${client.id}")`;
        const record = buildRecord(client, clientIndex, keyIndex, entry, label, now);
        const withLog = { ...command, auditLog: policy.settings.audit_log };
        checkGateCommand(withLog);
        return record.status === 'active' ? formatEntry(record, withLog) : undefined;
      }
    }
  } finally {
    policy.close();
  }
  return undefined;
}

/** Entry point used by main.ts; returns the exit code. */
export async function runLookupCommand(args: string[]): Promise<number> {
  const options = parseLookupArgv(args);
  if (typeof options === 'string') {
    process.stderr.write(`borg-gate: ${options}\n`);
    return 2;
  }
  try {
    const entry = await runLookup(options);
    if (entry !== undefined) {
      process.stdout.write(`${entry}\n`);
    }
    return 0;
  } catch (error) {
    process.stderr.write(`borg-gate: keys lookup failed: ${(error as Error).message}\n`);
    return 1;
  }
}
