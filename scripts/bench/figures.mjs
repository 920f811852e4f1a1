// The figures `npm run bench` measures, in order. To add one, append an entry whose `run`
// resolves to rows: { figure, baseline, subject, unit, target: { max } | { min }, summary }
// with `summary` from stats.mjs (summarisePairs for a ratio, summariseSamples for a plain
// number), or { ..., unavailable: 'reason' } when the figure cannot be measured yet.
import { measureAudit } from './audit.mjs';
import { measureAuditAppend } from './audit-append.mjs';
import { measureConnection } from './connection.mjs';
import { measureDataPath } from './data-path.mjs';
import { measureDoctor } from './doctor.mjs';
import { makeTempDir, removeDir } from './fixtures.mjs';
import { measureKeys } from './keys.mjs';
import { measureListen } from './listen.mjs';
import { measureRpcLatency } from './rpc-latency.mjs';
import { measureStartup } from './startup.mjs';
import { startSshBench } from './through-ssh.mjs';

/** Runs `measure(bench)` with an sshd and fixtures that live in a temp dir for this figure only. */
async function withSshBench(name, options, measure) {
  return withTempDir(name, options, async (root) => {
    const bench = await startSshBench(root, options.gate);
    try {
      return await measure(bench);
    } finally {
      await bench.stop();
    }
  });
}

/** Runs `measure(root)` with a temp dir for this figure only, removed unless --keep. */
async function withTempDir(name, options, measure) {
  const root = makeTempDir(name);
  try {
    return await measure(root);
  } finally {
    if (options.keep) {
      process.stderr.write(`kept ${root}\n`);
    } else {
      removeDir(root);
    }
  }
}

export const FIGURES = [
  {
    id: 'startup',
    describe: 'serve start-up (exec to borg) vs bare node, 10 and 10,000 clients',
    run: (options) => measureStartup(options),
  },
  {
    id: 'connection',
    describe: 'borg list through OpenSSH: borg-gate vs a plain forced borg serve',
    run: (options) =>
      withSshBench('connection', options, (bench) => measureConnection(bench, options)),
  },
  {
    id: 'data',
    describe: 'borg create and extract of incompressible data: borg-gate vs plain',
    run: (options) => withSshBench('data', options, (bench) => measureDataPath(bench, options)),
  },
  {
    id: 'listen',
    describe: 'borg create through borg-gate listen vs OpenSSH + borg-gate serve',
    run: (options) => withSshBench('listen', options, (bench) => measureListen(bench, options)),
  },
  {
    id: 'keys',
    describe: 'keys render, write and lookup for a large policy: CPU time and peak RSS',
    run: (options) => withTempDir('keys', options, (root) => measureKeys(root, options)),
  },
  {
    id: 'audit',
    describe: 'audit summary and a filtered query over a large rotated log: CPU, wall, RSS',
    run: (options) => withTempDir('audit', options, (root) => measureAudit(root, options)),
  },
  {
    id: 'audit-append',
    describe: 'audit append with fdatasync in one process: latency per record',
    run: (options) => withTempDir('append', options, (root) => measureAuditAppend(root, options)),
  },
  {
    id: 'doctor',
    describe: 'doctor with one repository per client: first and later runs',
    run: (options) => withTempDir('doctor', options, (root) => measureDoctor(root, options)),
  },
  {
    id: 'rpc-latency',
    describe: 'borg list of many archives through OpenSSH: time the gate adds per RPC call',
    run: (options) =>
      withSshBench('rpc-latency', options, (bench) => measureRpcLatency(bench, options)),
  },
];
