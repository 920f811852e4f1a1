import type { DoctorContext } from '../context.js';
import { type Finding, finding } from '../report.js';
import type { SshdSettings } from '../sshd.js';

/** An sshd setting, the value the backup user needs, and what the wrong value allows. */
interface ExpectedSetting {
  keyword: string;
  value: string;
  status: Finding['status'];
  risk: string;
}

const EXPECTED: ExpectedSetting[] = [
  {
    keyword: 'passwordauthentication',
    value: 'no',
    status: 'missing',
    risk: 'a guessed password logs in without a key and without the forced command',
  },
  {
    keyword: 'permituserenvironment',
    value: 'no',
    status: 'missing',
    risk: 'environment= options and ~/.ssh/environment can change how borg-gate and borg run',
  },
  {
    keyword: 'permittty',
    value: 'no',
    status: 'partial',
    risk: 'a key without restrict gets a terminal',
  },
  {
    keyword: 'allowtcpforwarding',
    value: 'no',
    status: 'partial',
    risk: 'a key without restrict can open tunnels into the server network',
  },
  {
    keyword: 'allowagentforwarding',
    value: 'no',
    status: 'partial',
    risk: 'a key without restrict can forward an agent',
  },
  {
    keyword: 'x11forwarding',
    value: 'no',
    status: 'partial',
    risk: 'a key without restrict can forward X11',
  },
  {
    keyword: 'exposeauthinfo',
    value: 'yes',
    status: 'partial',
    risk: 'borg-gate cannot confirm that the key that logged in belongs to --client',
  },
];

/** Compares `sshd -T` output for the backup user with the settings in deploy/sshd/borg-gate.conf. */
export function findSshdProblems(context: DoctorContext): Finding[] {
  const { sshd, options } = context;
  if (!sshd.ok) {
    return [
      finding(
        'partial',
        {},
        `cannot read the sshd settings: ${sshd.error}.`,
        'Pass the server config with --sshd-config and the backup user with --user; doctor runs sshd -T as root.',
      ),
    ];
  }
  const findings: Finding[] = [];
  for (const expected of EXPECTED) {
    const actual = sshd.value.get(expected.keyword);
    if (actual?.toLowerCase() === expected.value) {
      continue;
    }
    findings.push(
      finding(
        expected.status,
        {},
        `sshd for user ${options.user}: ${expected.keyword} is ${actual ?? 'not set'} (${expected.risk}).`,
        `In a "Match User ${options.user}" block of ${options.sshdConfig}: ${expected.keyword} ${expected.value}, then reload sshd.`,
      ),
    );
  }
  const acceptEnv = findAcceptEnvProblem(sshd.value, options.user, options.sshdConfig);
  return acceptEnv === undefined ? findings : [...findings, acceptEnv];
}

/** The AcceptEnv patterns that cannot reach the forced command's interpreter or loader. */
const SAFE_ACCEPT_ENV = new Set(['LANG', 'LC_*']);

/**
 * Reports AcceptEnv patterns other than LANG and LC_*. A client could otherwise send
 * NODE_OPTIONS, BASH_ENV or LD_PRELOAD and run its own code inside borg-gate before any check.
 */
export function findAcceptEnvProblem(
  settings: SshdSettings,
  user: string,
  sshdConfig: string,
): Finding | undefined {
  const patterns = (settings.get('acceptenv') ?? '').split(/\s+/).filter((word) => word !== '');
  const unsafe = patterns.filter((pattern) => !SAFE_ACCEPT_ENV.has(pattern));
  if (unsafe.length === 0) {
    return undefined;
  }
  return finding(
    'missing',
    {},
    `sshd for user ${user}: AcceptEnv accepts ${unsafe.join(' ')} (a client can send such a variable, for example NODE_OPTIONS, BASH_ENV or LD_PRELOAD, and run its own code in the shell and in borg-gate before any check).`,
    `Remove ${unsafe.join(' ')} from the AcceptEnv lines of ${sshdConfig}, or put "AcceptEnv LANG LC_*" in its "Match User ${user}" block, which replaces the list for that user; then reload sshd.`,
  );
}
