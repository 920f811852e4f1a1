// Figure: `borg create` through borg-gate's own SSH server (`listen`) against OpenSSH with
// borg-gate as the forced command, on the same policy, client and disk.
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { formatSize, writeRandomFile } from './data.mjs';
import { stopProcess } from './process.mjs';
import { summarisePairs } from './stats.mjs';

const CREATE_OPTIONS = ['--compression', 'none', '--files-cache', 'disabled'];

/** Starts `listen` on a free loopback port with the bench's policy and resolves once it listens. */
function startListen(bench) {
  const child = spawn(
    process.execPath,
    [
      bench.gate,
      ...['listen', '--port', '0', '--address', '127.0.0.1'],
      ...['--host-key', join(bench.root, 'listen_host_ed25519_key')],
      ...['--policy', bench.policyFile, '--audit-log', bench.fallbackLog],
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  const stop = () => stopProcess(child);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error('borg-gate listen did not log listen_start within 30 s'));
    }, 30_000);
    child.once('exit', (code) => reject(new Error(`borg-gate listen exited with ${code}`)));
    // The service log is one JSON record per line on stderr.
    createInterface({ input: child.stderr }).on('line', (line) => {
      let record;
      try {
        record = JSON.parse(line);
      } catch {
        return;
      }
      if (record.event === 'listen_start') {
        clearTimeout(timer);
        resolve({ port: Number(record.port), stop });
      }
    });
  });
}

async function createThrough(bench, url, repo) {
  await bench.local(['init', '--encryption', 'none', repo]);
  const result = await bench.borg('gate-data', [
    'create',
    ...CREATE_OPTIONS,
    `${url}::data`,
    'data',
  ]);
  rmSync(repo, { recursive: true, force: true });
  return result.ms;
}

/** Measures create throughput (MiB/s) through listen against OpenSSH + serve, target 0.8x. */
export async function measureListen(bench, options) {
  writeRandomFile(join(bench.root, 'data'), options.size);
  const listen = await startListen(bench);
  const mib = options.size / 1024 ** 2;
  const samples = { sshd: [], listen: [] };
  try {
    for (let run = 0; run < options.dataRuns; run += 1) {
      const order = run % 2 === 0 ? ['listen', 'sshd'] : ['sshd', 'listen'];
      for (const side of order) {
        const repo = join(bench.dataRepos, `${side}-${run}`);
        const url =
          side === 'sshd' ? bench.url(repo) : `ssh://${bench.user}@127.0.0.1:${listen.port}${repo}`;
        samples[side].push(mib / ((await createThrough(bench, url, repo)) / 1000));
      }
    }
  } finally {
    await listen.stop();
  }
  return [
    {
      figure: `listen: borg create ${formatSize(options.size)}, append-only`,
      baseline: 'OpenSSH + borg-gate serve',
      subject: 'borg-gate listen',
      unit: 'MiB/s',
      target: { min: 0.8 },
      summary: summarisePairs(samples.sshd, samples.listen),
    },
  ];
}
