import { followLog } from '../../lib/audit-log/follow.js';
import { parseLine } from '../../lib/audit-log/reader.js';
import { linePrefilter, matchesFilter } from './filter.js';
import { safeJsonLine, tableHeader, tableRow } from './format.js';
import { type FilterArgs, filterFromArgs, resolveLogPath } from './options.js';
import { LineOutput } from './output.js';

export interface TailArgs extends FilterArgs {
  follow?: boolean;
  lines?: number;
}

/**
 * Prints the newest records, and with --follow keeps printing new ones across
 * rotation until interrupted. Reopen events are logged to stderr with pino.
 */
export async function handleTail(args: TailArgs): Promise<number> {
  const logPath = await resolveLogPath(args);
  const filter = filterFromArgs(args);
  const prefilter = linePrefilter(filter);
  const output = new LineOutput();
  const abort = new AbortController();
  const logger = args.follow ? await diagnosticLogger() : undefined;

  if (args.follow) {
    process.once('SIGINT', () => abort.abort());
    process.once('SIGTERM', () => abort.abort());
    logger?.info({ file: logPath }, 'following the audit log');
  }
  if (!args.json) {
    await output.write(tableHeader());
  }

  const lines = followLog(logPath, {
    initialLines: args.lines ?? 10,
    signal: args.follow ? abort.signal : AbortSignal.abort(),
    onReopen: (reason) => logger?.info({ file: logPath, reason }, 'reopened the audit log'),
  });
  for await (const text of lines) {
    const record = prefilter(text) ? parseLine(text) : undefined;
    if (record === undefined || !matchesFilter(record, filter)) {
      continue;
    }
    if (!(await output.write(args.json ? safeJsonLine(text, record) : tableRow(record)))) {
      break;
    }
    if (args.follow) {
      await output.flush();
    }
  }

  await output.flush();
  logger?.info({ file: logPath }, 'stopped following the audit log');
  return 0;
}

async function diagnosticLogger() {
  const { default: pino } = await import('pino');
  return pino({ name: 'borg-gate-audit-tail' }, pino.destination(2));
}
