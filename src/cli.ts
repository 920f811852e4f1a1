import type { Argv, CommandModule } from 'yargs';
import yargs from 'yargs';
import { auditCommand } from './commands/audit.js';
import { checkCommand } from './commands/check.js';
import { doctorCommand } from './commands/doctor.js';
import { keysCommand } from './commands/keys.js';
import { listenCommand } from './commands/listen.js';
import { policyCommand } from './commands/policy.js';
import { serveCommand } from './commands/serve-help.js';

/** The package version, set by scripts/build.mjs. */
declare const BORG_GATE_VERSION: string | undefined;
const VERSION = typeof BORG_GATE_VERSION === 'string' ? BORG_GATE_VERSION : 'unbundled';

/** Every CLI verb; each module owns its options and help text. */
// biome-ignore lint/suspicious/noExplicitAny: each verb has its own argument type.
const COMMANDS: CommandModule<object, any>[] = [
  serveCommand,
  policyCommand,
  keysCommand,
  auditCommand,
  doctorCommand,
  listenCommand,
  checkCommand,
];

/** Error types that mean a bug in borg-gate rather than a bad input or a missing file. */
const PROGRAMMING_ERRORS = [TypeError, RangeError, ReferenceError, SyntaxError];

/** Tells a bug from bad input. Node's own input errors (a NUL in a path) are TypeErrors with a code. */
function isProgrammingError(error: Error): boolean {
  const hasCode = typeof (error as NodeJS.ErrnoException).code === 'string';
  return !hasCode && PROGRAMMING_ERRORS.some((type) => error instanceof type);
}

/**
 * Prints a failure and exits 1. A usage error (a message from yargs itself) comes with the help
 * text. An error thrown by a command, such as a missing file, is printed as one line.
 */
function reportFailure(
  message: string | null,
  error: Error | null | undefined,
  usage: Argv,
): never {
  if (error === null || error === undefined || error.name === 'YError') {
    usage.showHelp('error');
    process.stderr.write(`\n${message ?? error?.message ?? 'invalid command line'}\n`);
  } else if (isProgrammingError(error)) {
    // A bug: keep the stack for the report, without the help text.
    process.stderr.write(`borg-gate: internal error: ${error.stack ?? error.message}\n`);
  } else {
    process.stderr.write(`borg-gate: ${error.message}\n`);
  }
  process.exit(1);
}

/** Parses the command line and runs one verb. `serve` normally bypasses this (see main.ts). */
export async function runCli(argv: string[]): Promise<void> {
  const parser = yargs(argv)
    .scriptName('borg-gate')
    .usage(
      '$0 <command> [options]\n\nGives each BorgBackup client SSH access to only the repositories and mode its policy allows.',
    )
    .option('policy', {
      type: 'string',
      describe: 'Policy file (default: $BORG_GATE_POLICY, else /etc/borg-gate/policy.yaml)',
      global: true,
    })
    .demandCommand(1, 'Name a command; see borg-gate --help')
    .fail(reportFailure)
    .strict()
    .recommendCommands()
    .wrap(Math.min(100, process.stdout.columns ?? 100))
    .help()
    .alias('help', 'h')
    .version(VERSION);
  for (const command of COMMANDS) {
    parser.command(command);
  }
  await parser.parseAsync();
}
