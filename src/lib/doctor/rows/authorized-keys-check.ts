import { keyIdentity } from '../../policy/cross-checks.js';
import { gateClientOf, parseAuthorizedKeys } from '../authorized-keys-lines.js';
import type { DoctorContext } from '../context.js';
import { type Finding, finding, listNames } from '../report.js';

const DAY_MS = 86_400_000;
/** Keys that expire within this many days are reported, so a client does not stop backing up unnoticed. */
export const EXPIRY_WARNING_DAYS = 14;

/** Checks every line of authorized_keys: `restrict`, a borg-gate forced command, and the right client. */
export function findAuthorizedKeysProblems(context: DoctorContext): Finding[] {
  const loaded = context.authorizedKeys;
  if (loaded === undefined) {
    return [
      finding(
        'partial',
        {},
        'no authorized_keys file to check (none given, and sshd names none for the user).',
        'Pass --authorized-keys FILE or set BORG_GATE_AUTHORIZED_KEYS.',
      ),
    ];
  }
  if (!loaded.ok) {
    return [finding('partial', {}, `${loaded.error}.`, 'Pass the right --authorized-keys FILE.')];
  }
  const { file, text } = loaded.value;
  const owners = policyKeyOwners(context);
  const { keys, invalid } = parseAuthorizedKeys(text);
  const unrestricted: number[] = [];
  const ungated: number[] = [];
  const mismatched: string[] = [];
  const unknown: number[] = [];
  const firstLine = new Map<string, number>();
  const repeated: number[] = [];
  for (const line of keys) {
    const identity = `${line.keyType} ${line.base64}`;
    // sshd uses the first line that matches a key, so a later line for it never applies.
    if (firstLine.has(identity)) {
      repeated.push(line.line);
    } else {
      firstLine.set(identity, line.line);
    }
    if (!line.options.has('restrict')) {
      unrestricted.push(line.line);
    }
    const command = line.options.get('command');
    const client = typeof command === 'string' ? gateClientOf(command) : undefined;
    const owner = owners.get(identity);
    if (client === undefined) {
      ungated.push(line.line);
    } else if (owner === undefined) {
      unknown.push(line.line);
    } else if (owner !== client) {
      mismatched.push(`line ${line.line} (--client ${client}, policy ${owner})`);
    }
  }
  const findings: Finding[] = [];
  const lines = (numbers: number[]) => listNames(numbers.map(String), 10);
  if (unrestricted.length + invalid.length > 0) {
    findings.push(
      finding(
        'missing',
        {},
        `${file}: lines without the restrict option: ${lines([...unrestricted, ...invalid])}; such a key may forward ports, open a terminal or run ~/.ssh/rc.`,
        `Remove those lines and let \`borg-gate keys write --file ${file}\` manage the keys.`,
      ),
    );
  }
  if (ungated.length > 0) {
    findings.push(
      finding(
        'missing',
        {},
        `${file}: lines whose forced command is not borg-gate serve: ${lines(ungated)}; those keys bypass the policy.`,
        `Remove those lines and let \`borg-gate keys write --file ${file}\` manage the keys.`,
      ),
    );
  }
  if (mismatched.length > 0) {
    findings.push(
      finding(
        'missing',
        {},
        `${file}: keys whose --client differs from the policy: ${listNames(mismatched)}.`,
        `Run \`borg-gate keys write --file ${file}\`.`,
      ),
    );
  }
  if (repeated.length > 0) {
    findings.push(
      finding(
        'partial',
        {},
        `${file}: keys repeated on later lines, which sshd never uses: lines ${lines(repeated)}.`,
        `Run \`borg-gate keys write --file ${file}\` so each key has one line.`,
      ),
    );
  }
  if (unknown.length > 0) {
    findings.push(
      finding(
        'partial',
        {},
        `${file}: keys not in the policy, or of disabled or expired clients: lines ${lines(unknown)}.`,
        `Run \`borg-gate keys write --file ${file}\` to drop them.`,
      ),
    );
  }
  return findings;
}

/** Maps `type base64` of every key of an active client to the client id. */
function policyKeyOwners(context: DoctorContext): Map<string, string> {
  const owners = new Map<string, string>();
  for (const { client } of context.clients) {
    for (const entry of client.keys) {
      if (
        typeof entry !== 'string' &&
        entry.expires !== undefined &&
        entry.expires <= context.now
      ) {
        continue;
      }
      owners.set(keyIdentity(typeof entry === 'string' ? entry : entry.key), client.id);
    }
  }
  return owners;
}

/**
 * Clients that lose access within the warning window: the client expires, or every key it still
 * has expires. An old key that `keys rotate` set to expire next to a new key is not reported.
 */
export function findExpiringKeys(context: DoctorContext): Finding[] {
  const horizon = context.now.getTime() + EXPIRY_WARNING_DAYS * DAY_MS;
  const soon = (date: Date | undefined) =>
    date !== undefined && date > context.now && date.getTime() <= horizon;
  const expiring: string[] = [];
  for (const { client } of context.clients) {
    const live = client.keys
      .map((entry) => (typeof entry === 'string' ? undefined : entry.expires))
      .filter((date) => date === undefined || date > context.now);
    if (soon(client.expires) || (live.length > 0 && live.every(soon))) {
      expiring.push(client.id);
    }
  }
  if (expiring.length === 0) {
    return [];
  }
  return [
    finding(
      'partial',
      { clients: expiring },
      `clients whose access expires within ${EXPIRY_WARNING_DAYS} days: ${listNames(expiring)}.`,
      'Rotate the key (`borg-gate keys rotate`) or move `expires` if the access is still needed.',
    ),
  ];
}
