// Figures: `borg create` and `borg extract` of incompressible data, gate against plain.
import { rmSync } from 'node:fs';
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

async function backupAndRestore(bench, keyName, repo) {
  await bench.local(['init', '--encryption', 'none', repo]);
  const created = await bench.borg(keyName, [
    'create',
    ...CREATE_OPTIONS,
    `${bench.url(repo)}::data`,
    'data',
  ]);
  const target = makeOpenDir(join(bench.root, `extract-${keyName}`));
  const extracted = await bench.borg(keyName, ['extract', `${bench.url(repo)}::data`], {
    cwd: target,
  });
  rmSync(target, { recursive: true, force: true });
  return { createMs: created.ms, extractMs: extracted.ms };
}

/**
 * Tries an extract through `keyName` (the read-only client, or the plain one for its
 * baseline). Returns its time in ms, or why it failed.
 */
async function settledExtract(bench, keyName, repo) {
  const target = makeOpenDir(join(bench.root, `extract-settled-${keyName}`));
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

/** Measures create and extract throughput (MiB/s) through the gate and a plain forced command. */
export async function measureDataPath(bench, options) {
  writeRandomFile(join(bench.root, 'data'), options.size);
  const mib = options.size / 1024 ** 2;
  const samples = { create: [[], []], extract: [[], []], read: [[], []] };
  let readOnlyRefusal;
  for (let run = 0; run < options.dataRuns; run += 1) {
    const gateRepo = join(bench.dataRepos, `gate-${run}`);
    const plainRepo = join(bench.dataRepos, `plain-${run}`);
    const order = run % 2 === 0 ? ['gate', 'plain'] : ['plain', 'gate'];
    const times = {};
    for (const side of order) {
      const repo = side === 'gate' ? gateRepo : plainRepo;
      times[side] = await backupAndRestore(bench, `${side}-data`, repo);
    }
    samples.create[0].push(mib / (times.plain.createMs / 1000));
    samples.create[1].push(mib / (times.gate.createMs / 1000));
    samples.extract[0].push(mib / (times.plain.extractMs / 1000));
    samples.extract[1].push(mib / (times.gate.extractMs / 1000));
    // The extracts above each follow their own create, while the kernel still writes that data
    // back. The read-only extract is compared with a plain extract in the same state: both run
    // after both creates, in alternating order.
    const settled = {};
    for (const side of order) {
      settled[side] =
        side === 'gate'
          ? await settledExtract(bench, 'gate-read', gateRepo)
          : await settledExtract(bench, 'plain-data', plainRepo);
    }
    if (typeof settled.gate === 'number' && typeof settled.plain === 'number') {
      samples.read[0].push(mib / (settled.plain / 1000));
      samples.read[1].push(mib / (settled.gate / 1000));
    } else {
      readOnlyRefusal = settled.gate.refused ?? settled.plain.refused;
    }
    rmSync(gateRepo, { recursive: true, force: true });
    rmSync(plainRepo, { recursive: true, force: true });
  }
  const size = formatSize(options.size);
  const row = (figure, pair, target) => ({
    figure,
    baseline: 'plain forced borg serve',
    subject: 'borg-gate serve',
    unit: 'MiB/s',
    target,
    summary: summarisePairs(pair[0], pair[1]),
  });
  const rows = [
    row(`data path: borg create ${size}, append-only`, samples.create, { min: 0.95 }),
    row(`data path: borg extract ${size}, append-only`, samples.extract, { min: 0.95 }),
  ];
  if (samples.read[0].length > 0) {
    rows.push(row(`data path: borg extract ${size}, read-only`, samples.read, { min: 0.9 }));
  } else {
    rows.push({
      figure: `data path: borg extract ${size}, read-only`,
      baseline: 'plain forced borg serve',
      subject: 'borg-gate serve',
      unit: 'MiB/s',
      target: { min: 0.9 },
      unavailable: `gate refused the read-only session: ${readOnlyRefusal}`,
    });
  }
  return rows;
}
