// Figures: `audit summary` and a filtered `audit query` over a large log with rotated copies,
// in CPU time, wall time and peak RSS of the borg-gate process.
import { join } from 'node:path';
import { loadChainCode, writeAuditLog } from './audit-records.mjs';
import { ensureDir } from './fixtures.mjs';
import { summarisePairs, summariseSamples } from './stats.mjs';
import { runNodeWithUsage } from './usage.mjs';

/** The small log that the large one's peak RSS is compared with has this share of the records. */
const SMALL_SHARE = 10;

/** Largest peak RSS of the large log, as a multiple of the small one's, that counts as flat. */
const FLAT_MEMORY = 2;

/** A client with refused connections in every generated log of 1,677 records or more. */
const QUERY_CLIENT = 'client-00013';

/** `audit query` exits 1 when no record matches, as in a log too small to have one. */
const QUERY_EXIT_CODES = [0, 1];

function summaryCommand(gate, log) {
  return [gate, 'audit', 'summary', '--file', log.logPath, '--json'];
}

function queryCommand(gate, log) {
  const filter = ['--client', QUERY_CLIENT, '--decision', 'refuse'];
  return [gate, 'audit', 'query', '--file', log.logPath, ...filter, '--json'];
}

/**
 * Runs summary and query once with output kept and checks them against the generated counts,
 * so a reader that skips files or records fails the bench instead of looking fast.
 */
async function checkOutput(gate, log, usageFile) {
  const summary = await runNodeWithUsage(summaryCommand(gate, log), {
    usageFile,
    keepStdout: true,
  });
  const rows = summary.stdout
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line));
  const connections = rows.reduce((total, row) => total + row.connections, 0);
  const expected = (log.counts.session_start ?? 0) + (log.counts.session_refused ?? 0);
  if (connections !== expected) {
    throw new Error(`audit summary counted ${connections} connections, expected ${expected}`);
  }
  const refusals = rows.find((row) => row.client === QUERY_CLIENT)?.refusals ?? 0;
  const query = await runNodeWithUsage(queryCommand(gate, log), {
    usageFile,
    keepStdout: true,
    exitCodes: QUERY_EXIT_CODES,
  });
  const matched = query.stdout.split('\n').filter((line) => line.includes(QUERY_CLIENT)).length;
  if (matched !== refusals || query.code !== (matched > 0 ? 0 : 1)) {
    throw new Error(
      `audit query printed ${matched} records and exited with ${query.code}, ` +
        `the summary counted ${refusals}`,
    );
  }
}

async function prepareLog(root, name, count, chain) {
  const log = await writeAuditLog(ensureDir(join(root, name)), count, chain);
  return { ...log, count };
}

function timeRows(name, records, samples) {
  return [
    {
      figure: `${name}, ${records} records: CPU time`,
      subject: name,
      unit: 'ms CPU',
      target: { max: 3000 },
      summary: summariseSamples(samples.map((sample) => sample.cpuMs)),
    },
    {
      figure: `${name}, ${records} records: wall time`,
      subject: name,
      unit: 'ms',
      summary: summariseSamples(samples.map((sample) => sample.wallMs)),
    },
  ];
}

/** Measures the audit figures in `root` on a log of `options.auditRecords` records. */
export async function measureAudit(root, options) {
  const usageFile = join(root, 'usage.json');
  const chain = await loadChainCode(root);

  const started = performance.now();
  const large = await prepareLog(root, 'large', options.auditRecords, chain);
  const small = await prepareLog(
    root,
    'small',
    Math.ceil(options.auditRecords / SMALL_SHARE),
    chain,
  );
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  process.stderr.write(`  wrote ${large.count} + ${small.count} audit records in ${seconds} s\n`);
  // Also the warm-up: the rounds read the files from the page cache.
  await checkOutput(options.gate, large, usageFile);
  await checkOutput(options.gate, small, usageFile);

  const run = (args, exitCodes) => runNodeWithUsage(args, { usageFile, exitCodes });
  const summaries = [];
  const smallRss = [];
  const queries = [];
  for (let round = 0; round < options.auditRuns; round += 1) {
    summaries.push(await run(summaryCommand(options.gate, large)));
    smallRss.push((await run(summaryCommand(options.gate, small))).rssMiB);
    queries.push(await run(queryCommand(options.gate, large), QUERY_EXIT_CODES));
  }

  const records = large.count.toLocaleString('en-US');
  return [
    ...timeRows('audit summary', records, summaries),
    {
      figure: `audit summary, peak RSS, ${records} vs ${small.count.toLocaleString('en-US')} records`,
      baseline: `audit summary of a log with 1/${SMALL_SHARE} of the records`,
      subject: 'audit summary',
      unit: 'MiB',
      target: { max: FLAT_MEMORY },
      summary: summarisePairs(
        smallRss,
        summaries.map((sample) => sample.rssMiB),
      ),
    },
    ...timeRows(`audit query --client --decision`, records, queries),
  ];
}
