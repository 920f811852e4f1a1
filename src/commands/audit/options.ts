import type { Argv } from 'yargs';
import { errorCode } from '../../lib/audit-log/errors.js';
import { AUDIT_EVENTS } from '../../lib/audit-log/fields.js';
import { PolicyError } from '../../lib/policy/errors.js';
import { loadPolicy, policyFileFrom } from '../../lib/policy/load.js';
import { DEFAULT_AUDIT_LOG } from '../../lib/policy/policy-file.js';
import { parseTimeArgument, type RecordFilter } from './filter.js';

export interface FileArgs {
  file?: string;
  policy?: string;
}

export interface FilterArgs extends FileArgs {
  client?: string;
  repository?: string;
  decision?: 'allow' | 'refuse';
  event?: string;
  since?: string;
  until?: string;
  grep?: string;
  json?: boolean;
}

export function addFileOption<T>(yargs: Argv<T>) {
  return yargs.option('file', {
    type: 'string',
    describe: `Audit log to read; rotated copies next to it are read too (default: audit_log of the policy, else ${DEFAULT_AUDIT_LOG})`,
  });
}

export function addFilterOptions<T>(yargs: Argv<T>) {
  return addFileOption(yargs)
    .option('client', { type: 'string', describe: 'Only records of this client id' })
    .option('repository', {
      type: 'string',
      describe: 'Only records whose repository, or one of whose restrictions, is this path',
    })
    .option('decision', { choices: ['allow', 'refuse'] as const, describe: 'Only this decision' })
    .option('event', {
      choices: AUDIT_EVENTS,
      describe: 'Only this event',
    })
    .option('since', {
      type: 'string',
      describe:
        'Only records at or after this time: a duration back from now (30m, 2h, 3d, 1w) or an ISO date',
    })
    .option('until', {
      type: 'string',
      describe: 'Only records at or before this time (same forms as --since)',
    })
    .option('grep', { type: 'string', describe: 'Only records whose JSON line contains this text' })
    .option('json', { type: 'boolean', describe: 'Print JSON, one object per line' });
}

/** Builds the record filter from the command-line options; throws TimeArgumentError. */
export function filterFromArgs(args: FilterArgs, now = Date.now()): RecordFilter {
  return {
    client: args.client,
    repository: args.repository,
    decision: args.decision,
    event: args.event,
    since: args.since === undefined ? undefined : parseTimeArgument('since', args.since, now),
    until: args.until === undefined ? undefined : parseTimeArgument('until', args.until, now),
    grep: args.grep,
  };
}

/**
 * Returns the log path: --file, else `audit_log` of the policy file, else the default
 * when there is no policy file. An invalid policy is an error, because its log path is
 * unknown then.
 */
export async function resolveLogPath(args: FileArgs): Promise<string> {
  if (args.file !== undefined) {
    return args.file;
  }
  try {
    const { policy } = await loadPolicy(policyFileFrom(args.policy));
    return policy.audit_log;
  } catch (error) {
    if (error instanceof PolicyError && errorCode(error.cause) === 'ENOENT') {
      return DEFAULT_AUDIT_LOG;
    }
    if (error instanceof PolicyError) {
      throw new PolicyError(
        error.file,
        `${error.detail} (pass --file to read a log without the policy)`,
        {
          cause: error,
        },
      );
    }
    throw error;
  }
}
