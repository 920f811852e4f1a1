import { lstatSync } from 'node:fs';
import type { DoctorContext } from '../context.js';
import { type Finding, finding, listNames, type RowResult } from '../report.js';

/**
 * Row 5: repositories are encrypted, and only the check user can read their passphrases.
 * No unit file, and no file that other users can read, contains a passphrase.
 */
export function checkPassphrases(context: DoctorContext): RowResult {
  const findings = [
    ...findUnencrypted(context),
    ...findPassphraseFileProblems(context),
    ...findExposures(context),
  ];
  const files = Object.values(context.policy.checks?.repositories ?? {}).filter(
    (entry) => entry.passphrase_file !== undefined,
  ).length;
  return {
    id: 'passphrase',
    protection: 'Passphrase handling',
    summary: `all ${context.repositories.size} repositories are encrypted, ${files} passphrase files are private to the check user, and no systemd unit in ${context.options.systemdDir} exposes BORG_PASSPHRASE.`,
    findings,
  };
}

function findUnencrypted(context: DoctorContext): Finding[] {
  const none: string[] = [];
  const authenticated: string[] = [];
  const unknown: string[] = [];
  for (const info of context.repositories.values()) {
    if (!info.readable) {
      unknown.push(info.path);
    } else if (info.encryption === 'none') {
      none.push(info.path);
    } else if (info.encryption?.startsWith('authenticated')) {
      authenticated.push(info.path);
    } else if (info.encryption === undefined) {
      unknown.push(info.path);
    }
  }
  const findings: Finding[] = [];
  if (none.length > 0) {
    findings.push(
      finding(
        'missing',
        { repositories: none },
        `unencrypted repositories (borg init -e none; anyone who reads the server reads the backups): ${listNames(none)}.`,
        'Create an encrypted repository (`borg init -e repokey-blake2`), back up into it, then delete the unencrypted one.',
      ),
    );
  }
  if (authenticated.length > 0) {
    findings.push(
      finding(
        'partial',
        { repositories: authenticated },
        `repositories that are authenticated but not encrypted: ${listNames(authenticated)}.`,
        'Create an encrypted repository (`borg init -e repokey-blake2`) unless the data is meant to be readable on the server.',
      ),
    );
  }
  if (unknown.length > 0) {
    findings.push(
      finding(
        'partial',
        { repositories: unknown },
        `cannot tell the encryption of ${listNames(unknown)}: missing, unreadable or empty repository.`,
        'Run doctor as a user that can read the repositories, and check the paths in the policy.',
      ),
    );
  }
  return findings;
}

/**
 * Checks each passphrase file the way the check runner will: regular file, 0600 or stricter, right owner.
 * NOTE: assumes `borg-gate check` runs as --user, because the runner requires the uid it runs as.
 */
function findPassphraseFileProblems(context: DoctorContext): Finding[] {
  const findings: Finding[] = [];
  const owner = context.userUid;
  for (const [repository, entry] of Object.entries(context.policy.checks?.repositories ?? {})) {
    const file = entry.passphrase_file;
    if (file === undefined) {
      continue;
    }
    const problem = passphraseFileProblem(file, owner.ok ? owner.value : undefined);
    if (problem !== undefined) {
      findings.push(
        finding('missing', { repositories: [repository] }, problem.detail, problem.fix),
      );
    }
  }
  if (!owner.ok && findings.length === 0 && context.policy.checks !== undefined) {
    findings.push(
      finding(
        'partial',
        {},
        `cannot check the owner of passphrase files: ${owner.error}.`,
        'Pass the user that runs `borg-gate check` with --user.',
      ),
    );
  }
  return findings;
}

function passphraseFileProblem(
  file: string,
  ownerUid: number | undefined,
): { detail: string; fix: string } | undefined {
  let info: ReturnType<typeof lstatSync>;
  try {
    info = lstatSync(file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'error';
    return {
      detail: `passphrase file ${file} is missing or unreadable (${code}).`,
      fix: `Create it with mode 0600: install -m 0600 /dev/null ${file}, then write the passphrase into it.`,
    };
  }
  if (!info.isFile()) {
    return {
      detail: `passphrase file ${file} is not a regular file (a symlink or directory).`,
      fix: `Replace ${file} with a regular file of mode 0600.`,
    };
  }
  const mode = Number(info.mode) & 0o7777;
  // Group or other read access lets other local users read the key's passphrase.
  if ((mode & ~0o600) !== 0) {
    return {
      detail: `passphrase file ${file} has mode ${mode.toString(8).padStart(4, '0')}, wider than 0600.`,
      fix: `chmod 0600 ${file}`,
    };
  }
  if (ownerUid !== undefined && Number(info.uid) !== ownerUid) {
    return {
      detail: `passphrase file ${file} is owned by uid ${info.uid}, not by the check user (uid ${ownerUid}).`,
      fix: `chown ${ownerUid} ${file}`,
    };
  }
  return undefined;
}

function findExposures(context: DoctorContext): Finding[] {
  const units = context.exposures.filter((item) => item.reason === 'unit-environment');
  const envFiles = context.exposures.filter((item) => item.reason === 'world-readable-env-file');
  const findings: Finding[] = [];
  if (units.length > 0) {
    const files = [...new Set(units.map((item) => item.file))];
    findings.push(
      finding(
        'missing',
        {},
        `BORG_PASSPHRASE is set with Environment= in ${listNames(files)}; every local user can read it with systemctl show.`,
        'Move the passphrase to a file of mode 0600 and point borg at it with BORG_PASSCOMMAND="cat FILE" or LoadCredential=.',
      ),
    );
  }
  if (envFiles.length > 0) {
    const files = [...new Set(envFiles.map((item) => item.file))];
    findings.push(
      finding(
        'missing',
        {},
        `world-readable environment files hold BORG_PASSPHRASE: ${listNames(files)}.`,
        `chmod 0600 ${files.join(' ')}`,
      ),
    );
  }
  return findings;
}
