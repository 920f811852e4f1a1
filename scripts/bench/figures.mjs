// The figures `npm run bench` measures, in order. To add one, append an entry whose `run`
// resolves to rows: { figure, baseline, subject, unit, target: { max } | { min }, summary }
// with `summary` from stats.mjs (summarisePairs for a ratio, summariseSamples for a plain
// number), or { ..., unavailable: 'reason' } when the figure cannot be measured yet.
import { measureConnection } from './connection.mjs';
import { measureDataPath } from './data-path.mjs';
import { makeTempDir, removeDir } from './fixtures.mjs';
import { measureStartup } from './startup.mjs';
import { startSshBench } from './through-ssh.mjs';

/** Runs `measure(bench)` with an sshd and fixtures that live in a temp dir for this figure only. */
async function withSshBench(name, options, measure) {
  const root = makeTempDir(name);
  const bench = await startSshBench(root, options.gate);
  try {
    return await measure(bench);
  } finally {
    await bench.stop();
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
];
