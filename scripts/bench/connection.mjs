// Figure: `borg list` of a small repository, through borg-gate and through a plain forced command.
import { join } from 'node:path';
import { makeSourceTree } from './data.mjs';
import { measurePairs } from './pairs.mjs';

/** Measures one connection's wall time, gate against plain; target 1.1x. */
export async function measureConnection(bench, options) {
  await bench.local(['init', '--encryption', 'none', bench.smallRepo]);
  const source = makeSourceTree(join(bench.root, 'small-source'), 20, 4096);
  await bench.local(['create', `${bench.smallRepo}::first`, source]);
  const list = (keyName) => async () => {
    const result = await bench.borg(keyName, ['list', bench.url(bench.smallRepo)]);
    return result.ms;
  };
  // Warm-up: page cache, ssh host key, and the gate's policy cache.
  await list('gate-list')();
  await list('plain-list')();
  const summary = await measurePairs({
    rounds: options.sshRuns,
    baseline: list('plain-list'),
    subject: list('gate-list'),
  });
  return [
    {
      figure: 'connection: borg list, small repository',
      baseline: 'plain forced borg serve',
      subject: 'borg-gate serve',
      unit: 'ms',
      target: { max: 1.1 },
      summary,
    },
  ];
}
