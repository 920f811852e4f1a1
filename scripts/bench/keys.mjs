// Figures: `keys render`, `keys write` and `keys lookup` on a large policy, in CPU time and
// peak RSS of the borg-gate process, so the load of other processes matters less.
import { appendFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureDir, randomPublicKey, writePolicy } from './fixtures.mjs';
import { measureRotated } from './pairs.mjs';
import { summarisePairs, summariseSamples } from './stats.mjs';
import { runNodeWithUsage } from './usage.mjs';

/** Clients of the small policy that the large one's peak RSS is compared with. */
const SMALL_CLIENTS = 1000;

/** Largest peak RSS of the large policy, as a multiple of the small one's, that counts as flat. */
const FLAT_MEMORY = 2;

function preparePolicy(root, name, count) {
  const dir = ensureDir(join(root, name));
  const policy = writePolicy(dir, {
    count,
    borgBinary: '/usr/bin/borg',
    auditLog: join(dir, 'audit.log'),
    stateDir: ensureDir(join(dir, 'state')),
  });
  return { ...policy, dir, count };
}

function keysCommand(gate, policy, verb, extra = []) {
  return [gate, 'keys', verb, '--policy', policy.file, '--gate-path', gate, ...extra];
}

/**
 * `keys write` into an authorized_keys file that contains one unmanaged key, as on a first run,
 * with or without the lookup index.
 */
function writeCommand(gate, policy, withIndex) {
  const authorizedKeys = join(policy.dir, 'authorized_keys');
  rmSync(policy.indexFile, { force: true });
  writeFileSync(authorizedKeys, `${randomPublicKey()} admin@bench\n`, { mode: 0o600 });
  const index = withIndex ? ['--index', policy.indexFile] : [];
  return keysCommand(gate, policy, 'write', ['--file', authorizedKeys, ...index]);
}

/** Renders once with output kept and checks that every client's key is in it. */
async function checkRender(gate, policy, usageFile) {
  const result = await runNodeWithUsage(keysCommand(gate, policy, 'render'), {
    usageFile,
    keepStdout: true,
  });
  const entries = result.stdout.split('\n').filter((line) => line.includes(' ssh-ed25519 '));
  if (entries.length !== policy.count) {
    throw new Error(`keys render printed ${entries.length} entries for ${policy.count} clients`);
  }
}

/**
 * Adds a comment line to the policy, as a change pushed by configuration management would, so
 * the next command finds the policy cache stale and parses the YAML text.
 */
function touchPolicy(policy, round) {
  appendFileSync(policy.file, `# bench edit ${round}\n`);
}

/**
 * Measures render or write of both policies in alternating order. With `changedPolicies`, each
 * command runs right after an edit of its policy. Returns CPU ms and MiB.
 */
async function measureBoth(rounds, commandOf, usageFile, changedPolicies = undefined) {
  const samples = { largeCpu: [], largeRss: [], smallRss: [] };
  for (let round = 0; round < rounds; round += 1) {
    const order = round % 2 === 0 ? ['small', 'large'] : ['large', 'small'];
    for (const size of order) {
      const args = commandOf(size);
      if (changedPolicies !== undefined) {
        touchPolicy(changedPolicies[size], round);
      }
      const usage = await runNodeWithUsage(args, { usageFile });
      samples[`${size}Rss`].push(usage.rssMiB);
      if (size === 'large') {
        samples.largeCpu.push(usage.cpuMs);
      }
    }
  }
  return samples;
}

/**
 * Rows of CPU time and peak RSS ratio. The first command after a policy change (`changed`)
 * parses the YAML and writes the policy cache, once per change, so its rows are shown without
 * a target, as serve's first start-up after an edit is.
 */
function generatorRows(verb, large, samples, changed = false) {
  const clients = large.count.toLocaleString('en-US');
  const when = changed ? ', policy just changed' : '';
  return [
    {
      figure: `keys ${verb}, ${clients} clients${when}: CPU time`,
      subject: `borg-gate keys ${verb}`,
      unit: 'ms CPU',
      ...(changed ? {} : { target: { max: 2000 } }),
      summary: summariseSamples(samples.largeCpu),
    },
    {
      figure: `keys ${verb}${when}, peak RSS, ${clients} vs ${SMALL_CLIENTS.toLocaleString('en-US')} clients`,
      baseline: `the same command for ${SMALL_CLIENTS.toLocaleString('en-US')} clients`,
      subject: `borg-gate keys ${verb}`,
      unit: 'MiB',
      ...(changed ? {} : { target: { max: FLAT_MEMORY } }),
      summary: summarisePairs(samples.smallRss, samples.largeRss),
    },
  ];
}

/** Checks that lookup prints an entry for a key in the policy and nothing for other keys. */
async function checkLookup(args, expectFound, usageFile) {
  const result = await runNodeWithUsage(args, { usageFile, keepStdout: true });
  const found = result.stdout.includes('serve --client');
  if (found !== expectFound) {
    throw new Error(`keys lookup ${expectFound ? 'printed nothing' : 'printed an entry'}`);
  }
}

async function measureLookups(gate, large, options, usageFile) {
  const [foundType, foundBase64] = large.last.key.split(' ');
  const [absentType, absentBase64] = randomPublicKey().split(' ');
  const lookup = (type, base64, index) =>
    keysCommand(gate, large, 'lookup', [
      ...(index ? ['--index', large.indexFile] : []),
      'backup',
      type,
      base64,
    ]);
  const cases = [
    { name: 'key found through --index', args: lookup(foundType, foundBase64, true), found: true },
    {
      name: 'key absent, with --index',
      args: lookup(absentType, absentBase64, true),
      found: false,
    },
    { name: 'key absent, no index', args: lookup(absentType, absentBase64, false), found: false },
  ];
  for (const entry of cases) {
    await checkLookup(entry.args, entry.found, usageFile);
  }
  const cpu = (args) => async () => (await runNodeWithUsage(args, { usageFile })).cpuMs;
  const summaries = await measureRotated({
    rounds: options.runs,
    baseline: cpu(['-e', '0']),
    subjects: cases.map((entry) => cpu(entry.args)),
  });
  return cases.map((entry, index) => ({
    figure: `keys lookup, ${large.count.toLocaleString('en-US')} clients, ${entry.name}: CPU time`,
    baseline: 'bare node -e 0, CPU time',
    subject: 'borg-gate keys lookup',
    unit: 'ms CPU',
    target: { max: 1.3 },
    summary: summaries[index],
  }));
}

/** Measures the keys figures in `root`: render, write, then lookup against the written index. */
export async function measureKeys(root, options) {
  const usageFile = join(root, 'usage.json');
  const policies = {
    large: preparePolicy(root, 'large', options.keysClients),
    small: preparePolicy(root, 'small', SMALL_CLIENTS),
  };
  for (const policy of Object.values(policies)) {
    policy.indexFile = join(policy.dir, 'lookup.index');
    // Warm-up: page cache, and the policy cache that admin commands refresh as the owner.
    await checkRender(options.gate, policy, usageFile);
  }
  const render = (size) => keysCommand(options.gate, policies[size], 'render');
  const write = (size) => writeCommand(options.gate, policies[size], true);
  const writeOnly = (size) => writeCommand(options.gate, policies[size], false);
  const rendered = await measureBoth(options.keysRuns, render, usageFile);
  const writtenOnly = await measureBoth(options.keysRuns, writeOnly, usageFile);
  const written = await measureBoth(options.keysRuns, write, usageFile);
  const lookups = await measureLookups(options.gate, policies.large, options, usageFile);
  // Last, because the edits make the lookup index stale.
  const changedRender = await measureBoth(options.keysRuns, render, usageFile, policies);
  const changedWrite = await measureBoth(options.keysRuns, write, usageFile, policies);
  return [
    ...generatorRows('render', policies.large, rendered),
    ...generatorRows('write', policies.large, writtenOnly),
    ...generatorRows('write --index', policies.large, written),
    ...generatorRows('render', policies.large, changedRender, true),
    ...generatorRows('write --index', policies.large, changedWrite, true),
    ...lookups,
  ];
}
