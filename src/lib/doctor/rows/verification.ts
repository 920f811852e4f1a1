import {
  CHECK_KINDS,
  type CheckKind,
  canVerifyData,
  resolveCheckTargets,
} from '../../check/targets.js';
import type { DoctorContext } from '../context.js';
import { type Finding, finding, listNames, type RowResult } from '../report.js';

const KIND_LABEL: Record<CheckKind, string> = {
  repository_only: 'borg check --repository-only',
  verify_data: 'borg check --verify-data',
};

/**
 * Row 7: every repository is checked regularly, so damage on the server is found while the
 * clients still hold the data. Reads the state file that `borg-gate check` writes.
 */
export function checkVerification(context: DoctorContext): RowResult {
  const row = { id: 'verification', protection: 'Regular verification (borg check)' };
  if (!context.checkState.ok) {
    return {
      ...row,
      summary: '',
      findings: [
        finding(
          'missing',
          {},
          `the check state is unreadable: ${context.checkState.error}.`,
          'Fix or move aside the state file, then run `borg-gate check` from a timer.',
        ),
      ],
    };
  }
  const state = context.checkState.value;
  const findings: Finding[] = [];
  const targets = resolveCheckTargets(context.policy);
  for (const kind of CHECK_KINDS) {
    const never: string[] = [];
    const stale: string[] = [];
    const impossible: string[] = [];
    for (const target of targets) {
      if (kind === 'verify_data' && !canVerifyData(target)) {
        impossible.push(target.repository);
        continue;
      }
      const lastSuccess = state.repositories[target.repository]?.[kind]?.last_success;
      if (lastSuccess === undefined) {
        never.push(target.repository);
      } else if (context.now.getTime() - Date.parse(lastSuccess) > target.everyMs[kind]) {
        stale.push(target.repository);
      }
    }
    const label = KIND_LABEL[kind];
    if (never.length > 0) {
      findings.push(
        finding(
          'missing',
          { repositories: never },
          `no successful ${label} recorded in ${context.checkStateFile}: ${listNames(never)}.`,
          `Run \`borg-gate check${kind === 'verify_data' ? ' --verify-data' : ''}\` and schedule \`borg-gate check --due\` with a systemd timer or cron.`,
        ),
      );
    }
    if (stale.length > 0) {
      findings.push(
        finding(
          'partial',
          { repositories: stale },
          `last successful ${label} is older than its interval: ${listNames(stale)}.`,
          'Look at the last check outcome with `borg-gate check --due` and make sure its timer runs.',
        ),
      );
    }
    if (impossible.length > 0) {
      findings.push(
        finding(
          'partial',
          { repositories: impossible },
          `${label} cannot run without a passphrase source: ${listNames(impossible)}.`,
          'Add `passphrase_file`, `passcommand` or `unencrypted: true` for these repositories under `checks.repositories`.',
        ),
      );
    }
  }
  const disabled = Object.entries(context.policy.checks?.repositories ?? {})
    .filter(([, entry]) => entry.disabled === true)
    .map(([repository]) => repository);
  if (disabled.length > 0) {
    findings.push(
      finding(
        'partial',
        { repositories: disabled },
        `checks are disabled (\`disabled: true\` under checks.repositories) for ${listNames(disabled)}.`,
        'Remove `disabled: true` once the repository can be checked again.',
      ),
    );
  }
  return {
    ...row,
    summary: `all ${targets.length} repositories passed borg check and --verify-data within their intervals.`,
    findings,
  };
}
