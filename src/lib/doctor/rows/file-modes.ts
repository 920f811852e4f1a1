import { lstatSync, type Stats } from 'node:fs';
import { dirname } from 'node:path';
import type { DoctorContext } from '../context.js';
import { type Finding, finding } from '../report.js';

function octal(mode: number): string {
  return (mode & 0o7777).toString(8).padStart(4, '0');
}

/** Checks the modes of the files that decide or record access. */
export function findFileModeProblems(context: DoctorContext): Finding[] {
  const findings = policyFileProblems(context);
  findings.push(...stateDirMode(context.doctorStateFile));
  const keys = context.authorizedKeys;
  if (keys?.ok === true) {
    findings.push(...authorizedKeysMode(keys.value.file, keys.value.info));
  }
  findings.push(...auditLogMode(context.policy.audit_log));
  for (const file of [context.checkStateFile, context.doctorStateFile]) {
    findings.push(...stateFileMode(file));
  }
  return findings;
}

function policyFileProblems(context: DoctorContext): Finding[] {
  const findings: Finding[] = [];
  const policyFile = context.options.policyFile;
  const policyMode = context.policyInfo.mode;
  // A policy others can write lets them grant themselves any repository.
  if ((policyMode & 0o022) !== 0) {
    findings.push(
      finding(
        'missing',
        {},
        `policy ${policyFile} has mode ${octal(policyMode)}: group or others can write it (serve rejects such a policy, so every login fails).`,
        `chmod go-w ${policyFile}`,
      ),
    );
  }
  // A policy owned by another user lets that user grant themselves access; serve rejects it too.
  const owner = context.policyInfo.uid;
  if (owner !== 0 && owner !== process.getuid?.()) {
    findings.push(
      finding(
        'missing',
        {},
        `policy ${policyFile} is owned by uid ${owner}, not by root or the user running borg-gate.`,
        `chown root ${policyFile}`,
      ),
    );
  }
  return findings;
}

function stateFileMode(file: string): Finding[] {
  const info = statOrUndefined(file);
  // State that others can write could hide a failing check or reset a key's age.
  if (info === undefined || (info.mode & 0o022) === 0) {
    return [];
  }
  return [
    finding(
      'missing',
      {},
      `state file ${file} has mode ${octal(info.mode)}: group or others can write it.`,
      `chmod 0600 ${file}`,
    ),
  ];
}

function stateDirMode(stateFile: string): Finding[] {
  const dir = dirname(stateFile);
  const info = statOrUndefined(dir);
  // Others who can write the directory can replace a state file, or plant one before the first run.
  if (info === undefined || (info.mode & 0o002) === 0) {
    return [];
  }
  return [
    finding(
      'missing',
      {},
      `state directory ${dir} has mode ${octal(info.mode)}: others can replace its files.`,
      `chmod o-w ${dir}`,
    ),
  ];
}

function authorizedKeysMode(file: string, info: Stats): Finding[] {
  if ((info.mode & 0o022) !== 0) {
    // Anyone who can write this file can add a key without a forced command.
    return [
      finding(
        'missing',
        {},
        `${file} has mode ${octal(info.mode)}: group or others can write it, so they can add keys.`,
        `chmod 0600 ${file}`,
      ),
    ];
  }
  // A root-owned file outside the account's home is the recommended setup; sshd reads it with
  // the account's rights, so it must be readable (0644), and only root can change it.
  if (info.uid === 0 && (info.mode & 0o133) === 0) {
    return [];
  }
  if ((info.mode & 0o177) !== 0) {
    return [
      finding(
        'partial',
        {},
        `${file} has mode ${octal(info.mode)} instead of 0600 (or 0644 owned by root).`,
        `chmod 0600 ${file}, or make it root-owned with mode 0644 outside the account's home`,
      ),
    ];
  }
  return [];
}

function auditLogMode(file: string): Finding[] {
  const info = statOrUndefined(file);
  if (info === undefined) {
    return [];
  }
  if ((info.mode & 0o002) !== 0) {
    // A world-writable log lets any local user append forged records or truncate it.
    return [
      finding(
        'missing',
        {},
        `audit log ${file} has mode ${octal(info.mode)}: others can write it.`,
        `chmod o-rw ${file}`,
      ),
    ];
  }
  if ((info.mode & 0o004) !== 0) {
    return [
      finding(
        'partial',
        {},
        `audit log ${file} has mode ${octal(info.mode)}: every local user can read client addresses and repository paths.`,
        `chmod o-r ${file}`,
      ),
    ];
  }
  return [];
}

function statOrUndefined(file: string): Stats | undefined {
  try {
    return lstatSync(file);
  } catch {
    return undefined;
  }
}
