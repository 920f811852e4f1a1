import { checkGateCommand, formatEntry } from '../../lib/authorized-keys/entry.js';
import { buildRecord } from '../../lib/authorized-keys/key-records.js';
import {
  hashPolicySource,
  readIndex,
  searchIndex,
} from '../../lib/authorized-keys/lookup-index.js';
import { defaultGatePath } from '../../lib/authorized-keys/render.js';
import { keyIdentity } from '../../lib/policy/cross-checks.js';
import { DEFAULT_POLICY_FILE, loadPolicy } from '../../lib/policy/load.js';
import { readPolicySource } from '../../lib/policy/source.js';

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
  const source = await readPolicyText(options.policyFile);
  if (options.indexFile !== undefined) {
    const index = await readIndex(options.indexFile);
    const policyHash = hashPolicySource(source);
    const found = searchIndex(index, policyHash, command, options.keyType, options.keyBase64);
    if (found !== 'stale') {
      return found;
    }
  }
  // Most offered keys are in no policy entry; a substring test skips the YAML parse for them.
  // Line continuations of double-quoted YAML strings are removed first, as the parser would.
  // NOTE: a key whose base64 is written with YAML escape sequences (\x2B) is not found here.
  const joined = source.includes('\\') ? source.replace(/\\\r?\n[ \t]*/g, '') : source;
  if (options.keyBase64.length < 16 || !joined.includes(options.keyBase64)) {
    return undefined;
  }
  const { policy, file } = await loadPolicy(options.policyFile);
  const identity = `${options.keyType} ${options.keyBase64}`;
  for (const [clientIndex, client] of policy.clients.entries()) {
    for (const [keyIndex, entry] of client.keys.entries()) {
      if (keyIdentity(typeof entry === 'string' ? entry : entry.key) !== identity) {
        continue;
      }
      const label = `${file}: clients[${clientIndex}].keys[${keyIndex}] (client "${client.id}")`;
      const record = buildRecord(client, clientIndex, keyIndex, entry, label, now);
      return record.status === 'active' ? formatEntry(record, command) : undefined;
    }
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

async function readPolicyText(file: string): Promise<string> {
  // The loader's own reader: no symlinks, owner and mode checked, errors that name the fix.
  const { bytes } = await readPolicySource(file);
  return bytes.toString('utf8');
}
