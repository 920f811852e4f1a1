// Figure: latency of one audit append (lock, read the previous hash, write, fdatasync, head
// file) in one process, with borg-gate's own writer bundled from its sources by esbuild.
import { join, resolve } from 'node:path';
import { build } from 'esbuild';
import { quantile, summariseSamples } from './stats.mjs';

const WRITER = resolve(import.meta.dirname, '../../src/lib/audit-log/writer.ts');

/** Untimed appends before the measured ones, which include creating the lock and head files. */
const WARM_UP_APPENDS = 10;

async function loadWriter(dir) {
  const outfile = join(dir, 'audit-writer.mjs');
  await build({
    entryPoints: [WRITER],
    bundle: true,
    format: 'esm',
    platform: 'node',
    outfile,
    // proper-lockfile and its dependencies are CommonJS, so the bundle needs require for node:fs.
    banner: {
      js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);",
    },
    logLevel: 'warning',
  });
  return import(outfile);
}

/** Returns a session_start record as `serve` appends it, without the fields the writer adds. */
function sessionStart(index) {
  const repository = `/srv/borg/client-${String(index % 1000).padStart(5, '0')}`;
  return {
    event: 'session_start',
    session_id: index.toString(16).padStart(16, '0'),
    client_id: `client-${String(index % 1000).padStart(5, '0')}`,
    key_fingerprint: 'SHA256:2Q5c0q4mNvF0Hq1pG1zq3Qh0m9tq2v8l0iKQ4W0f3iU',
    client_ip: '192.0.2.10',
    client_port: 40000 + index,
    command: 'borg serve --umask=077',
    decision: 'allow',
    repository,
    restrictions: [`--restrict-to-repository ${repository}`],
    mode: 'append-only',
  };
}

/** Measures `options.appends` appends with fdatasync to a log in `root`, after a warm-up. */
export async function measureAuditAppend(root, options) {
  const writer = await loadWriter(root);
  const log = await writer.openAuditLog(join(root, 'audit.log'));
  const samples = [];
  for (let index = 0; index < WARM_UP_APPENDS + options.appends; index += 1) {
    const started = performance.now();
    await log.append(sessionStart(index));
    if (index >= WARM_UP_APPENDS) {
      samples.push(performance.now() - started);
    }
  }
  await log.close();
  const p99 = quantile(samples, 0.99);
  return [
    {
      figure: `audit append with fdatasync, one process: median (p99 ${p99.toFixed(1)} ms)`,
      subject: 'AuditLog.append',
      unit: 'ms',
      summary: summariseSamples(samples),
    },
  ];
}
