import { auditRecordJsonSchema } from '../../lib/audit-log/record.js';
import { verifyAuditLog } from '../../lib/audit-log/verify.js';
import { type FileArgs, type FilterArgs, filterFromArgs, resolveLogPath } from './options.js';
import { LineOutput } from './output.js';
import { runQuery } from './query.js';
import { warn } from './run.js';
import { summarizeClients } from './summary.js';

/** Prints matching records; exits 1 when none matched. */
export async function handleQuery(args: FilterArgs): Promise<number> {
  const logPath = await resolveLogPath(args);
  const filter = filterFromArgs(args);
  const stats = await runQuery(logPath, filter, Boolean(args.json), new LineOutput(), warn);
  return stats.matched > 0 ? 0 : 1;
}

/** Prints one line (or JSON object) per client. */
export async function handleSummary(args: FilterArgs): Promise<number> {
  const logPath = await resolveLogPath(args);
  const summaries = await summarizeClients(logPath, filterFromArgs(args), warn);
  const output = new LineOutput();
  if (args.json) {
    for (const summary of summaries) {
      await output.write(JSON.stringify(summary));
    }
  } else {
    const { summaryTable } = await import('./summary-table.js');
    await output.write(summaryTable(summaries));
  }
  await output.flush();
  return 0;
}

export interface VerifyArgs extends FileArgs {
  anchor?: string[];
  json?: boolean;
}

/** Checks the hash chain; exits 1 when a problem was found. */
export async function handleVerify(args: VerifyArgs): Promise<number> {
  const logPath = await resolveLogPath(args);
  const result = await verifyAuditLog(logPath, { anchors: args.anchor });
  const output = new LineOutput();
  if (args.json) {
    await output.write(JSON.stringify(result));
  } else {
    for (const problem of result.problems) {
      const where = problem.line > 0 ? `${problem.file}:${problem.line}` : problem.file;
      await output.write(`${where}: ${problem.kind}: ${problem.message}`);
    }
    await output.write(verifySummaryLine(result));
  }
  await output.flush();
  return result.ok ? 0 : 1;
}

function verifySummaryLine(result: Awaited<ReturnType<typeof verifyAuditLog>>): string {
  const scope = `${result.records} records in ${result.files.length} file(s)`;
  if (!result.ok) {
    const hidden = result.problemCount - result.problems.length;
    const more = hidden > 0 ? ` (${hidden} more not shown)` : '';
    return `FAILED: ${result.problemCount} problem(s)${more} in ${scope}`;
  }
  const start = result.startsMidChain
    ? 'the oldest file continues a chain whose start was rotated away'
    : 'the chain starts at genesis';
  return `OK: ${scope}, ${start}; newest hash ${result.lastHash ?? '(none)'}`;
}

/** Prints the JSON Schema of a record line. */
export async function handleSchema(): Promise<number> {
  process.stdout.write(`${JSON.stringify(auditRecordJsonSchema(), null, 2)}\n`);
  return 0;
}
