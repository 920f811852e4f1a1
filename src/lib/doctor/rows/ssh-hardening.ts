import type { DoctorContext } from '../context.js';
import type { RowResult } from '../report.js';
import { findAuthorizedKeysProblems } from './authorized-keys-check.js';
import { EXPIRY_WARNING_DAYS, findExpiringKeys } from './expiry.js';
import { findFileModeProblems } from './file-modes.js';
import { findSshdProblems } from './sshd-settings.js';

/** Row 8: sshd settings for the backup user, authorized_keys lines, key expiry and file modes. */
export function checkSshHardening(context: DoctorContext): RowResult {
  return {
    id: 'ssh-hardening',
    protection: 'SSH hardening',
    summary: `sshd settings for ${context.options.user} match the hardening, every authorized_keys line is restricted to borg-gate serve, no access expires within ${EXPIRY_WARNING_DAYS} days, and policy, keys, log and state files have safe modes.`,
    findings: [
      ...findSshdProblems(context),
      ...findAuthorizedKeysProblems(context),
      ...findExpiringKeys(context),
      ...findFileModeProblems(context),
    ],
  };
}
