// Figures: `borg create` and `borg extract` of incompressible data, gate against plain.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statfsSync } from 'node:fs';
import { join } from 'node:path';
import { formatSize, writeRandomFile } from './data.mjs';
import { summarisePairs } from './stats.mjs';
import { makeOpenDir } from './through-ssh.mjs';

/**
 * Settings that leave the gate's relay as the main difference between the two sides. The
 * client neither compresses nor encrypts, and random data does not deduplicate. Each run uses
 * a fresh repository, so every chunk is sent, and both sides share the client and the disk.
 */
const CREATE_OPTIONS = ['--compression', 'none', '--files-cache', 'disabled'];

/**
 * Writes every dirty page back to disk, so the timed transfer that follows does not compete
 * with the write-back of the data file, an earlier create or an earlier extract.
 */
function settle() {
  execFileSync('sync');
}

async function backup(bench, keyName, repo) {
  await bench.local(['init', '--encryption', 'none', repo]);
  settle();
  const created = await bench.borg(keyName, [
    'create',
    ...CREATE_OPTIONS,
    `${bench.url(repo)}::data`,
    'data',
  ]);
  return created.ms;
}

/**
 * Tries an extract through `keyName`. Returns its time in ms, or why it failed (the read-only
 * client may be refused by a broken build).
 */
async function extract(bench, keyName, repo, base) {
  const target = makeOpenDir(join(base, `extract-${keyName}`));
  settle();
  try {
    const result = await bench.borg(keyName, ['extract', `${bench.url(repo)}::data`], {
      cwd: target,
    });
    return result.ms;
  } catch (error) {
    return { refused: String(error.message).split('\n')[0].slice(0, 200) };
  } finally {
    rmSync(target, { recursive: true, force: true });
  }
}

/**
 * Picks where extracts write: a directory in /dev/shm when it has room for two copies of the
 * data, because writing 1 GiB to disk makes extract times vary by a third between runs, else
 * the bench's temp dir.
 */
function extractBase(bench, size) {
  try {
    const { bavail, bsize } = statfsSync('/dev/shm');
    if (bavail * bsize > 2 * size) return mkdtempSync(join('/dev/shm', 'borg-gate-bench-'));
  } catch {
    // No /dev/shm on this system.
  }
  return bench.root;
}

/** Returns `items` turned left by `count` places, so each run starts with another one. */
function rotate(items, count) {
  const shift = count % items.length;
  return [...items.slice(shift), ...items.slice(0, shift)];
}

/** Measures create and extract throughput (MiB/s) through the gate and a plain forced command. */
export async function measureDataPath(bench, options) {
  writeRandomFile(join(bench.root, 'data'), options.size);
  const mib = options.size / 1024 ** 2;
  const samples = { create: [[], []], append: [[], []], read: [[], []] };
  const refusal = {};
  const base = extractBase(bench, options.size);
  process.stderr.write(`  extracts write to ${base}\n`);
  for (let run = 0; run < options.dataRuns; run += 1) {
    const repos = {
      gate: join(bench.dataRepos, `gate-${run}`),
      plain: join(bench.dataRepos, `plain-${run}`),
    };
    const created = {};
    for (const side of run % 2 === 0 ? ['gate', 'plain'] : ['plain', 'gate']) {
      created[side] = await backup(bench, `${side}-data`, repos[side]);
    }
    samples.create[0].push(mib / (created.plain / 1000));
    samples.create[1].push(mib / (created.gate / 1000));
    // Each transfer starts after a sync, and the order of the extracts turns each run.
    const extracts = [
      ['plain', 'plain-data', repos.plain],
      ['append', 'gate-data', repos.gate],
      ['read', 'gate-read', repos.gate],
    ];
    const times = {};
    for (const [name, keyName, repo] of rotate(extracts, run)) {
      times[name] = await extract(bench, keyName, repo, base);
    }
    for (const name of ['append', 'read']) {
      if (typeof times[name] === 'number' && typeof times.plain === 'number') {
        samples[name][0].push(mib / (times.plain / 1000));
        samples[name][1].push(mib / (times[name] / 1000));
      } else {
        refusal[name] = times[name].refused ?? times.plain.refused;
      }
    }
    rmSync(repos.gate, { recursive: true, force: true });
    rmSync(repos.plain, { recursive: true, force: true });
  }
  if (base !== bench.root) rmSync(base, { recursive: true, force: true });
  const size = formatSize(options.size);
  const row = (figure, pair, target) => ({
    figure,
    baseline: 'plain forced borg serve',
    subject: 'borg-gate serve',
    unit: 'MiB/s',
    target,
    summary: summarisePairs(pair[0], pair[1]),
  });
  const extractRow = (figure, name, target) =>
    samples[name][0].length > 0
      ? row(figure, samples[name], target)
      : {
          figure,
          baseline: 'plain forced borg serve',
          subject: 'borg-gate serve',
          unit: 'MiB/s',
          target,
          unavailable: `an extract failed: ${refusal[name]}`,
        };
  const rows = [
    row(`data path: borg create ${size}, append-only`, samples.create, { min: 0.95 }),
    extractRow(`data path: borg extract ${size}, append-only`, 'append', { min: 0.95 }),
    extractRow(`data path: borg extract ${size}, read-only`, 'read', { min: 0.9 }),
  ];
  return rows;
}
