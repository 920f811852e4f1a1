import { constants } from 'node:os';
import { join } from 'node:path';
import type { CommandModule } from 'yargs';
import { type AuditLog, openAuditLog } from '../lib/audit-log/writer.js';
import { BorgBaseDirError, prepareBorgBaseDir } from '../lib/check/base-dir.js';
import {
  createProgressReporter,
  type ProgressReporter,
  type TextStream,
} from '../lib/check/progress.js';
import { CheckRunLockedError, type CheckRunSummary, runChecks } from '../lib/check/runner.js';
import { CheckStateError } from '../lib/check/state.js';
import { type CheckKind, type CheckTarget, resolveCheckTargets } from '../lib/check/targets.js';
import { PolicyError } from '../lib/policy/errors.js';
import { loadPolicy, policyFileFrom } from '../lib/policy/load.js';
import type { Policy } from '../lib/policy/schema.js';

export interface CheckArgs {
  policy?: string;
  repository?: string;
  verifyData?: boolean;
  due?: boolean;
  state?: string;
}

/** What the command reads from its surroundings; tests pass a fixed clock and a plain stream. */
export interface CheckIo {
  now: () => Date;
  stderr: TextStream;
}

/** Exit code when the run could not start: invalid policy, unreadable state, another run active. */
export const EXIT_CANNOT_RUN = 2;

export const checkCommand: CommandModule<object, CheckArgs> = {
  command: 'check',
  describe: 'Run borg check on the repositories in the policy and alert on failures',
  builder: (yargs) =>
    yargs
      .option('repository', {
        type: 'string',
        describe: 'Check only this repository (absolute path as written in the policy)',
      })
      .option('verify-data', {
        type: 'boolean',
        describe:
          'Run borg check --verify-data (reads and decrypts every chunk; needs a passphrase source)',
      })
      .option('due', {
        type: 'boolean',
        describe: 'Run only the checks whose interval has passed or that were skipped last time',
      })
      .option('state', {
        type: 'string',
        describe: 'State file (default: checks.state_file, else check-state.json in state_dir)',
      }),
  handler: async (args) => {
    process.exitCode = await runCheckCommand(args, {
      now: () => new Date(),
      stderr: process.stderr,
    });
  },
};

/** Runs `borg-gate check` and returns its exit code: 0 all well, 1 a problem, 2 could not run. */
export async function runCheckCommand(args: CheckArgs, io: CheckIo): Promise<number> {
  const warn = (line: string) => io.stderr.write(`borg-gate check: ${line}\n`);
  let policy: Policy;
  try {
    policy = (await loadPolicy(policyFileFrom(args.policy))).policy;
  } catch (error) {
    if (!(error instanceof PolicyError)) {
      throw error;
    }
    warn(`invalid policy: ${error.message}`);
    return EXIT_CANNOT_RUN;
  }
  const targets = selectTargets(resolveCheckTargets(policy), args.repository);
  if (typeof targets === 'string') {
    warn(targets);
    return EXIT_CANNOT_RUN;
  }
  const borgBinary = borgOneBinary(policy);
  if (borgBinary === undefined) {
    warn(
      'borg.binaries.borg is a borg 2 binary; borg-gate check runs borg 1.x only, so map "borg" to a borg 1.x path',
    );
    return EXIT_CANNOT_RUN;
  }
  const stateFile =
    args.state ?? policy.checks?.state_file ?? join(policy.state_dir, 'check-state.json');
  const baseDir = join(policy.state_dir, 'borg');
  try {
    await prepareBorgBaseDir(baseDir);
  } catch (error) {
    if (!(error instanceof BorgBaseDirError)) {
      throw error;
    }
    warn(`borg base directory: ${error.message}`);
    return EXIT_CANNOT_RUN;
  }
  const audit = await openAuditSafely(policy.audit_log, warn);
  const progress = createProgressReporter(io.stderr);
  const interrupt = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => {
    warn(`${signal} received; stopping the running borg check`);
    interrupt.abort(signal);
  };
  // borg runs in its own session, so a terminal's Ctrl-C reaches it only through this handler.
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const summary = await runChecks({
      targets,
      kinds: selectKinds(args),
      dueOnly: args.due === true,
      // Only `--verify-data --repository R` names a check that cannot run; report it as refused.
      explicit: args.repository !== undefined && args.verifyData === true,
      stateFile,
      borgBinary,
      baseDir,
      now: io.now,
      progress,
      audit,
      warn,
      signal: interrupt.signal,
    });
    printSummary(summary, progress, io.stderr);
    if (interrupt.signal.aborted) {
      return 128 + (constants.signals[interrupt.signal.reason as NodeJS.Signals] ?? 0);
    }
    return audit === undefined ? 1 : summary.exitCode;
  } catch (error) {
    if (error instanceof CheckStateError || error instanceof CheckRunLockedError) {
      warn(error.message);
      return EXIT_CANNOT_RUN;
    }
    throw error;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await audit?.close();
  }
}

/** Returns the binary mapped to `borg`, or undefined when it is borg 2, whose check options differ. */
function borgOneBinary(policy: Policy): string | undefined {
  const entry = policy.borg.binaries.borg ?? '/usr/bin/borg';
  if (typeof entry === 'string') {
    return entry;
  }
  return entry.major === 1 ? entry.path : undefined;
}

function selectKinds(args: CheckArgs): CheckKind[] {
  if (args.verifyData === true) {
    return ['verify_data'];
  }
  return args.due === true ? ['repository_only', 'verify_data'] : ['repository_only'];
}

function selectTargets(
  targets: CheckTarget[],
  repository: string | undefined,
): CheckTarget[] | string {
  if (repository === undefined) {
    return targets;
  }
  const match = targets.find((target) => target.repository === repository);
  if (match === undefined) {
    return `repository ${JSON.stringify(repository)} is not in the policy or is disabled; list it under clients[].repositories or checks.repositories`;
  }
  return [match];
}

/** Opens the audit log; a failure is reported and the checks still run, so alerts still go out. */
async function openAuditSafely(
  path: string,
  warn: (line: string) => void,
): Promise<AuditLog | undefined> {
  try {
    return await openAuditLog(path);
  } catch (error) {
    warn(`cannot open audit log, results go only to the state file: ${(error as Error).message}`);
    return undefined;
  }
}

function printSummary(summary: CheckRunSummary, progress: ProgressReporter, stderr: TextStream) {
  if (!progress.live) {
    return;
  }
  const counts = new Map<string, number>();
  for (const result of summary.results) {
    counts.set(result.outcome, (counts.get(result.outcome) ?? 0) + 1);
  }
  const parts = [...counts].map(([outcome, count]) => `${count} ${outcome}`);
  parts.push(`${summary.overdue.length} overdue`);
  stderr.write(`${summary.results.length} checks run: ${parts.join(', ')}\n`);
}
