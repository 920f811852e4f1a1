import type { Argv, CommandModule } from 'yargs';
import { SHA256_HEX_PATTERN } from '../lib/audit-log/fields.js';
import type { VerifyArgs } from './audit/handlers.js';
import { addFileOption, addFilterOptions, type FilterArgs } from './audit/options.js';
import { runAuditHandler } from './audit/run.js';
import type { TailArgs } from './audit/tail.js';

// Handlers load lazily, so `borg-gate --help` and other verbs do not read the audit code.
const handlers = () => import('./audit/handlers.js');

/** Returns the anchor in lower case, or throws a usage error when it is not a SHA-256 in hex. */
function checkAnchor(value: string): string {
  const anchor = value.trim().toLowerCase();
  if (!SHA256_HEX_PATTERN.test(anchor)) {
    throw new Error(
      `--anchor ${JSON.stringify(value)} is not a record hash: give the 64 hex digits of a record's "hash" field`,
    );
  }
  return anchor;
}

const queryCommand: CommandModule = {
  command: ['query', '$0'],
  describe: 'Print audit records that match every given filter, oldest first',
  builder: (yargs) => addFilterOptions(yargs),
  handler: (args) =>
    runAuditHandler(async () => (await handlers()).handleQuery(args as FilterArgs)),
};

const summaryCommand: CommandModule = {
  command: 'summary',
  describe:
    'Per client: last access, connections, refusals, bytes, last refusal reason, last write per repository',
  builder: (yargs) => addFilterOptions(yargs),
  handler: (args) =>
    runAuditHandler(async () => (await handlers()).handleSummary(args as FilterArgs)),
};

const tailCommand: CommandModule = {
  command: 'tail',
  describe: 'Print the newest records; with -f, keep printing new ones across log rotation',
  builder: (yargs) =>
    addFilterOptions(yargs)
      .option('follow', {
        alias: 'f',
        type: 'boolean',
        describe: 'Keep printing records as they are appended',
      })
      .option('lines', {
        alias: 'n',
        type: 'number',
        default: 10,
        describe: 'Number of existing lines to print first',
      }),
  handler: (args) =>
    runAuditHandler(async () => {
      const { handleTail } = await import('./audit/tail.js');
      return handleTail(args as TailArgs);
    }),
};

const verifyCommand: CommandModule = {
  command: 'verify',
  describe: 'Check the hash chain of the log and its rotated copies; exit 1 on any problem',
  builder: (yargs) =>
    addFileOption(yargs)
      .option('anchor', {
        type: 'string',
        array: true,
        describe:
          'Hash of a record, stored earlier away from this host; fail unless the chain still contains it',
        coerce: (values: string[]) => values.map(checkAnchor),
      })
      .option('json', { type: 'boolean', describe: 'Print the result as JSON' }),
  handler: (args) =>
    runAuditHandler(async () => (await handlers()).handleVerify(args as VerifyArgs)),
};

const schemaCommand: CommandModule = {
  command: 'schema',
  describe: 'Print the JSON Schema of one audit record line',
  handler: () => runAuditHandler(async () => (await handlers()).handleSchema()),
};

export const auditCommand: CommandModule = {
  command: 'audit',
  describe: 'Query, summarize, follow and verify the audit log',
  builder: (yargs: Argv) =>
    yargs
      .command(queryCommand)
      .command(summaryCommand)
      .command(tailCommand)
      .command(verifyCommand)
      .command(schemaCommand),
  handler: () => {},
};
