import { statSync } from 'node:fs';
import { runBorgCheck } from './borg-check.js';
import { PassphraseRefusedError, preparePassphrase } from './passphrase.js';
import type { ProgressReporter } from './progress.js';
import type { CheckOutcome } from './state.js';
import { type CheckKind, type CheckTarget, canVerifyData } from './targets.js';

/** Result of one check of one repository, as stored, alerted and audited. */
export interface CheckResult {
  repository: string;
  kind: CheckKind;
  outcome: CheckOutcome;
  message: string;
  exitCode: number | null;
  durationMs: number;
}

export interface BorgSettings {
  borgBinary: string;
  /** BORG_BASE_DIR for every check: borg's config, cache, security and keys directory. */
  baseDir: string;
  /** Aborting stops the running borg and starts no further check. */
  signal?: AbortSignal;
}

/** Runs one check, or returns `refused` with the reason when it must not run. */
export async function executeCheck(
  target: CheckTarget,
  kind: CheckKind,
  borg: BorgSettings,
  progress: ProgressReporter,
  /** Called after the refusal checks; a result it returns replaces running borg check. */
  skip: () => CheckResult | undefined = () => undefined,
): Promise<CheckResult> {
  const refusal = refusalReason(target, kind);
  if (refusal !== undefined) {
    return refused(target, kind, refusal);
  }
  let passphrase: Awaited<ReturnType<typeof preparePassphrase>>;
  try {
    // --repository-only never decrypts, so it never needs (or reads) the passphrase.
    passphrase =
      kind === 'verify_data'
        ? await preparePassphrase(target.passphrase)
        : { env: {}, pipeText: undefined };
  } catch (error) {
    if (error instanceof PassphraseRefusedError) {
      return refused(target, kind, error.message);
    }
    throw error;
  }
  const skipped = skip();
  if (skipped !== undefined) {
    return skipped;
  }
  const result = await runBorgCheck({
    borgBinary: borg.borgBinary,
    repository: target.repository,
    kind,
    lockWaitSeconds: target.lockWaitSeconds,
    timeoutMs: target.timeoutMs,
    baseDir: borg.baseDir,
    passphrase,
    unencrypted: target.passphrase.type === 'unencrypted',
    signal: borg.signal,
    onProgress: progress.live ? (text) => progress.update(text) : undefined,
  });
  return { repository: target.repository, kind, ...result };
}

function refusalReason(target: CheckTarget, kind: CheckKind): string | undefined {
  // borg reads `REPO::ARCHIVE`, so such a path would check one archive of another repository.
  if (target.repository.includes('::')) {
    return `repository path ${target.repository} contains "::", which borg reads as an archive name`;
  }
  const owner = ownerMismatch(target.repository);
  if (owner !== undefined) {
    return owner;
  }
  if (kind === 'verify_data' && !canVerifyData(target)) {
    return `--verify-data needs the passphrase: set checks.repositories["${target.repository}"].passphrase_file, passcommand or unencrypted: true`;
  }
  return undefined;
}

/**
 * Returns a reason when the repository belongs to another user. borg rewrites the repository's
 * config and index as the user it runs as, so a check run as root would leave root-owned files
 * that the backup account can no longer open, breaking every later backup.
 */
function ownerMismatch(repository: string): string | undefined {
  const euid = process.geteuid?.();
  let uid: number;
  try {
    uid = statSync(repository).uid;
  } catch {
    return undefined;
  }
  if (euid === undefined || uid === euid) {
    return undefined;
  }
  return `repository ${repository} is owned by uid ${uid}, but borg-gate check runs as uid ${euid}; run it as the owner (for example: sudo -u borg borg-gate check)`;
}

function refused(target: CheckTarget, kind: CheckKind, message: string): CheckResult {
  return {
    repository: target.repository,
    kind,
    outcome: 'refused',
    message,
    exitCode: null,
    durationMs: 0,
  };
}
