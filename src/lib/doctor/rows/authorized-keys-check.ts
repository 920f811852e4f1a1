import { findLinesOutsideBlocks } from '../../authorized-keys/managed-block.js';
import { keyIdentity } from '../../policy/cross-checks.js';
import {
  type AuthorizedKeyLine,
  gateClientOf,
  parseAuthorizedKeys,
} from '../authorized-keys-lines.js';
import type { DoctorContext } from '../context.js';
import { type Finding, finding, listNames } from '../report.js';

/** Line numbers of authorized_keys lines, grouped by what is wrong with them. */
interface LineProblems {
  unrestricted: number[];
  ungated: number[];
  mismatched: Array<{ line: number; text: string }>;
  unknown: number[];
  repeated: number[];
  /** The first line of each repeated key, which sshd does use. */
  firstOfRepeated: number[];
}

/** Checks every line of authorized_keys: `restrict`, a borg-gate forced command, and the right client. */
export function findAuthorizedKeysProblems(context: DoctorContext): Finding[] {
  const loaded = context.authorizedKeys;
  if (loaded === undefined && usesGateLookup(context)) {
    // `borg-gate keys lookup` builds each line from the policy, with restrict and the forced command.
    return [];
  }
  if (loaded === undefined) {
    return [
      finding(
        'partial',
        {},
        'no authorized_keys file to check: none was given, and sshd has no AuthorizedKeysFile for the user.',
        'Pass --authorized-keys FILE or set BORG_GATE_AUTHORIZED_KEYS.',
      ),
    ];
  }
  if (!loaded.ok) {
    return [finding('partial', {}, `${loaded.error}.`, 'Pass the right --authorized-keys FILE.')];
  }
  const { file, text } = loaded.value;
  const { keys, invalid } = parseAuthorizedKeys(text);
  const problems = classifyLines(keys, policyKeyOwners(context));
  // An unparsable line may still be accepted by sshd, so it counts as unrestricted.
  problems.unrestricted.push(...invalid);
  const outside = new Set(findLinesOutsideBlocks(text).map((entry) => entry.line));
  return toFindings(file, problems, outside);
}

function classifyLines(keys: AuthorizedKeyLine[], owners: Map<string, string>): LineProblems {
  const problems: LineProblems = {
    unrestricted: [],
    ungated: [],
    mismatched: [],
    unknown: [],
    repeated: [],
    firstOfRepeated: [],
  };
  const seen = new Map<string, number>();
  for (const line of keys) {
    const identity = `${line.keyType} ${line.base64}`;
    // sshd uses the first line that matches a key, so a later line for it never applies.
    const first = seen.get(identity);
    if (first === undefined) {
      seen.set(identity, line.line);
    } else {
      problems.repeated.push(line.line);
      problems.firstOfRepeated.push(first);
    }
    if (!line.options.has('restrict')) {
      problems.unrestricted.push(line.line);
    }
    const command = line.options.get('command');
    const client = typeof command === 'string' ? gateClientOf(command) : undefined;
    const owner = owners.get(identity);
    if (client === undefined) {
      problems.ungated.push(line.line);
    } else if (owner === undefined) {
      problems.unknown.push(line.line);
    } else if (owner !== client) {
      problems.mismatched.push({
        line: line.line,
        text: `line ${line.line} (--client ${client}, policy ${owner})`,
      });
    }
  }
  return problems;
}

function toFindings(file: string, problems: LineProblems, outside: Set<number>): Finding[] {
  const lines = (numbers: number[]) => listNames(numbers.map(String), 10);
  const rewrite = `Remove those lines and let \`borg-gate keys write --file ${file}\` manage the keys.`;
  // keys write replaces only its managed block, so it cannot fix a line outside every block.
  const fixFor = (numbers: number[], managedFix: string) => {
    const byHand = numbers.filter((number) => outside.has(number));
    if (byHand.length === 0) {
      return managedFix;
    }
    return `Delete lines ${lines(byHand)} of ${file} by hand, because they are outside the borg-gate managed blocks and \`borg-gate keys write\` never changes them; to keep such a key, add it to the policy with \`borg-gate keys add\` and run \`borg-gate keys write --file ${file}\`.`;
  };
  const candidates: Array<[boolean, Finding]> = [
    [
      problems.unrestricted.length > 0,
      finding(
        'missing',
        {},
        `${file}: lines without the restrict option: ${lines(problems.unrestricted)}. Such a key may forward ports, open a terminal or run ~/.ssh/rc.`,
        rewrite,
      ),
    ],
    [
      problems.ungated.length > 0,
      finding(
        'missing',
        {},
        `${file}: lines whose forced command is not borg-gate serve: ${lines(problems.ungated)}. Those keys bypass the policy.`,
        rewrite,
      ),
    ],
    [
      problems.mismatched.length > 0,
      finding(
        'missing',
        {},
        `${file}: keys whose --client differs from the policy: ${listNames(problems.mismatched.map((entry) => entry.text))}.`,
        fixFor(
          problems.mismatched.map((entry) => entry.line),
          `Run \`borg-gate keys write --file ${file}\`.`,
        ),
      ),
    ],
    [
      problems.repeated.length > 0,
      finding(
        'partial',
        {},
        `${file}: keys repeated on later lines, which sshd never uses: lines ${lines(problems.repeated)}.`,
        fixFor(
          [...new Set([...problems.firstOfRepeated, ...problems.repeated])].sort((a, b) => a - b),
          `Run \`borg-gate keys write --file ${file}\` so each key has one line.`,
        ),
      ),
    ],
    [
      problems.unknown.length > 0,
      finding(
        'partial',
        {},
        `${file}: keys not in the policy, or of disabled or expired clients: lines ${lines(problems.unknown)}.`,
        fixFor(problems.unknown, `Run \`borg-gate keys write --file ${file}\` to drop them.`),
      ),
    ],
  ];
  return candidates.filter(([present]) => present).map(([, item]) => item);
}

/** Tells whether sshd runs `borg-gate keys lookup` to get keys instead of reading a file. */
function usesGateLookup(context: DoctorContext): boolean {
  const command = context.sshd.ok ? context.sshd.value.get('authorizedkeyscommand') : undefined;
  return command !== undefined && /(^|\/)borg-gate(\.m?js)?\s+keys\s+lookup\b/.test(command);
}

/** Maps `type base64` of every unexpired key of an active client to the client id. */
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
