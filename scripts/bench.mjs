// `npm run bench`: measures borg-gate against bare node and against a plain forced
// `borg serve`, side by side in one run, and prints one table. See BENCHMARKS.md.
import { writeFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { parseSize } from './bench/data.mjs';
import { FIGURES } from './bench/figures.mjs';
import { removeDir } from './bench/fixtures.mjs';
import { renderReport, verdict } from './bench/report.mjs';
import { snapshotBuild } from './bench/snapshot.mjs';

const HELP = `Usage: node scripts/bench.mjs [options]

  --only LIST         comma-separated figures: ${FIGURES.map((figure) => figure.id).join(', ')}
  --runs N            start-up and keys lookup rounds (default 20)
  --ssh-runs N        borg list rounds through ssh (default 10)
  --data-runs N       create and extract rounds of data and listen (default 1)
  --size SIZE         data per create of data and listen, powers of 1024: 1G, 256M (default 1G)
  --keys-clients N    clients in the large policy of the keys figures (default 100000)
  --keys-runs N       keys render and keys write rounds (default 3)
  --audit-records N   records in the audit log of the audit figures (default 1000000)
  --audit-runs N      audit summary and query rounds (default 3)
  --appends N         timed appends of audit-append (default 200)
  --doctor-clients N  clients and repositories of the doctor figure (default 1000)
  --doctor-runs N     first and later doctor runs (default 3 each)
  --archives N        archives in the repository of rpc-latency (default 1000)
  --rpc-runs N        borg list rounds of rpc-latency (default 10)
  --gate FILE         borg-gate entry point, copied before the run (default dist/borg-gate.js)
  --json FILE         also write the rows as JSON
  --strict            exit 1 when a target is missed
  --keep              keep the temp directories
`;

function readOptions() {
  const { values } = parseArgs({
    options: {
      only: { type: 'string' },
      runs: { type: 'string', default: '20' },
      'ssh-runs': { type: 'string', default: '10' },
      'data-runs': { type: 'string', default: '1' },
      size: { type: 'string', default: '1G' },
      'keys-clients': { type: 'string', default: '100000' },
      'keys-runs': { type: 'string', default: '3' },
      'audit-records': { type: 'string', default: '1000000' },
      'audit-runs': { type: 'string', default: '3' },
      appends: { type: 'string', default: '200' },
      'doctor-clients': { type: 'string', default: '1000' },
      'doctor-runs': { type: 'string', default: '3' },
      archives: { type: 'string', default: '1000' },
      'rpc-runs': { type: 'string', default: '10' },
      gate: { type: 'string', default: 'dist/borg-gate.js' },
      json: { type: 'string' },
      strict: { type: 'boolean', default: false },
      keep: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(HELP);
    process.exit(0);
  }
  const size = parseSize(values.size);
  if (size === undefined) {
    throw new Error(`invalid --size "${values.size}": use a whole number with K, M or G`);
  }
  return {
    only: values.only?.split(',') ?? FIGURES.map((figure) => figure.id),
    runs: positive('--runs', values.runs),
    sshRuns: positive('--ssh-runs', values['ssh-runs']),
    dataRuns: positive('--data-runs', values['data-runs']),
    size,
    keysClients: positive('--keys-clients', values['keys-clients']),
    keysRuns: positive('--keys-runs', values['keys-runs']),
    auditRecords: positive('--audit-records', values['audit-records']),
    auditRuns: positive('--audit-runs', values['audit-runs']),
    appends: positive('--appends', values.appends),
    doctorClients: positive('--doctor-clients', values['doctor-clients']),
    doctorRuns: positive('--doctor-runs', values['doctor-runs']),
    archives: positive('--archives', values.archives),
    rpcRuns: positive('--rpc-runs', values['rpc-runs']),
    gate: resolve(values.gate),
    json: values.json,
    strict: values.strict,
    keep: values.keep,
  };
}

function positive(name, text) {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1) {
    throw new Error(`invalid ${name} "${text}": use a whole number of 1 or more`);
  }
  return value;
}

const options = readOptions();
const unknown = options.only.filter((id) => !FIGURES.some((figure) => figure.id === id));
if (unknown.length > 0) {
  throw new Error(`unknown figure "${unknown.join(', ')}"; see --help`);
}
const snapshot = snapshotBuild(options.gate);
const rows = [];
try {
  for (const figure of FIGURES.filter((entry) => options.only.includes(entry.id))) {
    process.stderr.write(`measuring ${figure.describe} ...\n`);
    const started = performance.now();
    rows.push(...(await figure.run({ ...options, gate: snapshot.entry })));
    const seconds = Math.round((performance.now() - started) / 1000);
    process.stderr.write(`  ${figure.id} took ${seconds} s\n`);
  }
} finally {
  removeDir(snapshot.root);
}
const load = loadavg()
  .map((value) => value.toFixed(2))
  .join(' ');
process.stdout.write(`${renderReport(rows)}\n`);
// Other processes slow borg-gate and its baseline alike, but not always evenly.
process.stdout.write(`load average at the end: ${load} on ${availableParallelism()} CPUs\n`);
if (options.json !== undefined) {
  writeFileSync(options.json, `${JSON.stringify(rows, null, 2)}\n`);
}
if (options.strict && rows.some((row) => verdict(row) === 'MISSED')) {
  process.exitCode = 1;
}
