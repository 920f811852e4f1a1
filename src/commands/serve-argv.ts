import { DEFAULT_POLICY_FILE } from '../lib/policy/source.js';
import { CLIENT_ID_PATTERN } from '../lib/policy/values.js';
import type { ServeOptions } from './serve.js';

/**
 * Parses `serve --client ID [--policy FILE] [--audit-log FILE]` by hand, because yargs costs
 * more start-up time than the rest of `serve`. Returns an error message for a bad command line.
 */
export function parseServeArgv(args: string[], defaultAuditLog: string): ServeOptions | string {
  const values = new Map<string, string>();
  for (let index = 0; index < args.length; index += 1) {
    const word = args[index]!;
    const [name, inline] = word.startsWith('--') ? splitOption(word) : [word, undefined];
    if (!['--client', '--policy', '--audit-log'].includes(name)) {
      return `unknown serve argument "${word}"; see borg-gate serve --help`;
    }
    const value = inline ?? args[++index];
    if (value === undefined || value === '') {
      return `${name} needs a value`;
    }
    // A second --client would silently win over the first, so a hand-edited line could hide it.
    if (values.has(name)) {
      return `${name} is given twice; give it once`;
    }
    values.set(name, value);
  }
  const clientId = values.get('--client');
  if (clientId === undefined || !CLIENT_ID_PATTERN.test(clientId)) {
    return 'serve needs --client ID with a valid client id';
  }
  return {
    clientId,
    // BORG_GATE_POLICY is ignored here: an environment an SSH client can influence (AcceptEnv,
    // authorized_keys environment=) must not choose the policy.
    policyFile: values.get('--policy') ?? DEFAULT_POLICY_FILE,
    fallbackAuditLog: values.get('--audit-log') ?? defaultAuditLog,
  };
}

function splitOption(word: string): [string, string | undefined] {
  const equals = word.indexOf('=');
  return equals === -1 ? [word, undefined] : [word.slice(0, equals), word.slice(equals + 1)];
}
