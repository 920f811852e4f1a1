// Figure: the latency borg-gate adds to each RPC call, from `borg list` of a repository with
// many archives, which fetches every archive's metadata with one call per archive.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { measureRotated } from './pairs.mjs';
import { runChecked } from './process.mjs';
import { summariseSamples } from './stats.mjs';

// {comment} is stored in each archive's metadata object, not in the manifest, so borg
// fetches every archive; the default format reads only the manifest.
const LIST_FORMAT = '{archive} {comment}{NL}';

/** Returns the Python that runs borg, from the #! line of its entry script. */
function borgPython() {
  const firstLine = readFileSync('/usr/bin/borg', 'utf8').split('\n', 1)[0];
  return firstLine.startsWith('#!') ? firstLine.slice(2).trim().split(' ')[0] : '/usr/bin/python3';
}

/** Creates the repository on the server side and adds `count` empty archives in one commit. */
async function makeRepository(bench, count) {
  await bench.local(['init', '--encryption', 'none', bench.smallRepo]);
  const script = join(import.meta.dirname, 'make-archives.py');
  await runChecked(borgPython(), [script, bench.smallRepo, String(count)], {
    env: bench.localEnvironment,
    timeoutMs: 3_600_000,
  });
}

/**
 * Lists through `keyName` once with --debug and returns the number of RPC messages the borg
 * client sent, from the line its RemoteRepository logs when it closes (borg 1.2).
 */
async function countMessages(bench, keyName, format) {
  const result = await bench.borg(keyName, ['--debug', ...listArgs(bench, format)]);
  const match = /RemoteRepository: .* (\d+) messages sent/.exec(result.stderr);
  if (match === null) {
    throw new Error(`borg --debug list printed no message count through ${keyName}`);
  }
  return Number(match[1]);
}

function listArgs(bench, format) {
  return [
    'list',
    ...(format === undefined ? [] : ['--format', format]),
    bench.url(bench.smallRepo),
  ];
}

/** Counts the messages of both listings, the same through the gate and without it. */
async function countBoth(bench, archives) {
  const counts = {};
  for (const [name, format] of [
    ['many', LIST_FORMAT],
    ['few', undefined],
  ]) {
    const gate = await countMessages(bench, 'gate-list', format);
    const plain = await countMessages(bench, 'plain-list', format);
    if (gate !== plain) {
      throw new Error(`borg list sent ${gate} messages through the gate and ${plain} without`);
    }
    counts[name] = gate;
  }
  // One `get` per archive: fewer messages means the format no longer makes borg fetch them.
  if (counts.many - counts.few < archives) {
    throw new Error(`borg list sent ${counts.many} messages for ${archives} archives`);
  }
  return counts;
}

/**
 * Measures `borg list` of `options.archives` archives, gate against plain. Each round also
 * lists the archive names only (a few RPCs), so the time the gate adds once per connection
 * cancels out of the time it adds per RPC.
 */
export async function measureRpcLatency(bench, options) {
  const started = performance.now();
  await makeRepository(bench, options.archives);
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  process.stderr.write(`  created ${options.archives} archives in ${seconds} s\n`);
  const counts = await countBoth(bench, options.archives);
  const samples = { plainMany: [], gateMany: [], plainFew: [], gateFew: [] };
  const list = (keyName, format, side) => async () => {
    const result = await bench.borg(keyName, listArgs(bench, format));
    samples[side].push(result.ms);
    return result.ms;
  };
  const [total] = await measureRotated({
    rounds: options.rpcRuns,
    baseline: list('plain-list', LIST_FORMAT, 'plainMany'),
    subjects: [
      list('gate-list', LIST_FORMAT, 'gateMany'),
      list('plain-list', undefined, 'plainFew'),
      list('gate-list', undefined, 'gateFew'),
    ],
  });
  const addedPerCall = samples.gateMany.map((gateMany, round) => {
    const addedMany = gateMany - samples.plainMany[round];
    const addedFew = samples.gateFew[round] - samples.plainFew[round];
    return ((addedMany - addedFew) / (counts.many - counts.few)) * 1000;
  });
  const archives = options.archives.toLocaleString('en-US');
  return [
    {
      figure: `borg list {comment}, ${archives} archives, ${counts.many.toLocaleString('en-US')} RPCs: total`,
      baseline: 'plain forced borg serve',
      subject: 'borg-gate serve',
      unit: 'ms',
      target: { max: 1.1 },
      summary: total,
    },
    {
      figure: `borg list, added time per RPC (${counts.many.toLocaleString('en-US')} vs ${counts.few} RPCs)`,
      subject: 'borg-gate serve',
      unit: 'µs',
      summary: summariseSamples(addedPerCall),
    },
  ];
}
