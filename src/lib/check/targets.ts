import type { CheckRepositoryPolicy } from '../policy/checks-schema.js';
import type { Policy } from '../policy/schema.js';

export const CHECK_KINDS = ['repository_only', 'verify_data'] as const;
export type CheckKind = (typeof CHECK_KINDS)[number];

const DAY_MS = 86_400_000;

/** Values used where neither `checks.defaults` nor the repository entry sets one. */
export const CHECK_DEFAULTS = {
  repositoryOnlyEveryMs: 7 * DAY_MS,
  verifyDataEveryMs: 30 * DAY_MS,
  timeoutMs: 6 * 3_600_000,
  lockWaitSeconds: 600,
  overdueAfterFactor: 1.5,
} as const;

export type PassphraseSource =
  | { type: 'file'; file: string }
  | { type: 'command'; argv: string[] }
  | { type: 'unencrypted' }
  | { type: 'none' };

/** One repository with every check setting resolved. */
export interface CheckTarget {
  repository: string;
  everyMs: Record<CheckKind, number>;
  timeoutMs: number;
  lockWaitSeconds: number;
  /** A factor of the interval, or a fixed number of milliseconds. */
  overdueAfter: { factor: number } | { ms: number };
  alertCommand: string[] | undefined;
  passphrase: PassphraseSource;
}

/**
 * Lists the repositories to check: every client repository plus every path in
 * `checks.repositories`, sorted, without duplicates and without disabled entries.
 */
export function resolveCheckTargets(policy: Policy): CheckTarget[] {
  const overrides = policy.checks?.repositories ?? {};
  const paths = new Set<string>(Object.keys(overrides));
  for (const client of policy.clients) {
    for (const entry of client.repositories) {
      paths.add(typeof entry === 'string' ? entry : entry.path);
    }
  }
  const targets: CheckTarget[] = [];
  for (const repository of [...paths].sort()) {
    const entry = overrides[repository] ?? {};
    if (entry.disabled !== true) {
      targets.push(resolveTarget(policy, repository, entry));
    }
  }
  return targets;
}

function resolveTarget(
  policy: Policy,
  repository: string,
  entry: CheckRepositoryPolicy,
): CheckTarget {
  const defaults = policy.checks?.defaults ?? {};
  return {
    repository,
    everyMs: {
      repository_only:
        entry.repository_only_every ??
        defaults.repository_only_every ??
        CHECK_DEFAULTS.repositoryOnlyEveryMs,
      verify_data:
        entry.verify_data_every ?? defaults.verify_data_every ?? CHECK_DEFAULTS.verifyDataEveryMs,
    },
    timeoutMs: entry.timeout ?? defaults.timeout ?? CHECK_DEFAULTS.timeoutMs,
    lockWaitSeconds: entry.lock_wait ?? defaults.lock_wait ?? CHECK_DEFAULTS.lockWaitSeconds,
    overdueAfter: entry.overdue_after ??
      defaults.overdue_after ?? { factor: CHECK_DEFAULTS.overdueAfterFactor },
    alertCommand: entry.alert_command ?? defaults.alert_command,
    passphrase: passphraseSourceOf(entry),
  };
}

function passphraseSourceOf(entry: CheckRepositoryPolicy): PassphraseSource {
  if (entry.passphrase_file !== undefined) {
    return { type: 'file', file: entry.passphrase_file };
  }
  if (entry.passcommand !== undefined) {
    return { type: 'command', argv: entry.passcommand };
  }
  return entry.unencrypted === true ? { type: 'unencrypted' } : { type: 'none' };
}

/** Returns how long after the last success (or first sighting) a check of this kind counts as overdue. */
export function overdueAfterMs(target: CheckTarget, kind: CheckKind): number {
  const rule = target.overdueAfter;
  return 'ms' in rule ? rule.ms : Math.round(target.everyMs[kind] * rule.factor);
}

/** Tells whether `--verify-data` can run: it needs a passphrase unless the repository is unencrypted. */
export function canVerifyData(target: CheckTarget): boolean {
  return target.passphrase.type !== 'none';
}
