// Figure: `doctor` on a server with 1,000 clients and 1,000 repositories, the first run (no
// doctor state yet) and later runs, in wall time, since doctor also runs `sshd -T`.
import { execFileSync } from 'node:child_process';
import { cpSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { loadChainCode, writeAuditLog } from './audit-records.mjs';
import { ensureDir, writePolicy } from './fixtures.mjs';
import { runChecked } from './process.mjs';
import { summariseSamples } from './stats.mjs';
import { runNodeWithUsage } from './usage.mjs';

const DEPLOYED_SSHD = resolve(import.meta.dirname, '../../deploy/sshd/borg-gate.conf');

/** Records in the audit log that doctor reads for each client's last write. */
const AUDIT_RECORDS = 20_000;

/** doctor's exit codes for a report: all implemented, partial, missing. 3 means it failed. */
const REPORT_EXIT_CODES = [0, 1, 2];

/** Writes sshd_config: a host key, then the deployed snippet with its Match for this user. */
function writeSshdConfig(dir, user) {
  const hostKey = join(dir, 'ssh_host_ed25519_key');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', hostKey]);
  const snippet = readFileSync(DEPLOYED_SSHD, 'utf8').replace(
    /^Match User borg$/m,
    `Match User ${user}`,
  );
  const file = join(dir, 'sshd_config');
  writeFileSync(file, `HostKey ${hostKey}\n${snippet}`);
  return file;
}

/**
 * Creates one repokey repository with `borg init` and copies it to every client's path, each
 * copy with its own repository id, because `borg init` per client would start Python and
 * derive a key from the passphrase once per repository.
 * NOTE: the copies share one repokey, so doctor also reports that finding for them.
 */
async function makeRepositories(dir, paths) {
  const template = join(dir, 'template-repo');
  await runChecked('/usr/bin/borg', ['init', '--encryption', 'repokey-blake2', template], {
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: dir,
      BORG_BASE_DIR: join(dir, 'borg-base'),
      BORG_PASSPHRASE: 'bench passphrase',
    },
  });
  const config = readFileSync(join(template, 'config'), 'utf8');
  for (const [index, path] of paths.entries()) {
    ensureDir(dirname(path));
    cpSync(template, path, { recursive: true });
    const id = index.toString(16).padStart(64, 'a');
    writeFileSync(join(path, 'config'), config.replace(/^id = .*$/m, `id = ${id}`));
  }
}

async function prepareServer(root, gate, clients) {
  const user = userInfo().username;
  const logDir = ensureDir(join(root, 'log'));
  const stateDir = ensureDir(join(root, 'state'));
  const policy = writePolicy(root, {
    count: clients,
    borgBinary: '/usr/bin/borg',
    auditLog: join(logDir, 'audit.log'),
    stateDir,
  });
  const paths = Array.from({ length: clients }, (_, index) =>
    join(root, 'repos', `client-${String(index).padStart(5, '0')}`),
  );
  await makeRepositories(root, paths);
  await writeAuditLog(logDir, AUDIT_RECORDS, await loadChainCode(root));
  const authorizedKeys = join(root, 'authorized_keys');
  const write = [
    'keys',
    'write',
    '--policy',
    policy.file,
    '--gate-path',
    gate,
    '--file',
    authorizedKeys,
  ];
  await runChecked(process.execPath, [gate, ...write]);
  return {
    stateDir,
    args: [
      gate,
      'doctor',
      ...['--policy', policy.file, '--authorized-keys', authorizedKeys],
      ...['--sshd-config', writeSshdConfig(root, user), '--user', user],
      ...['--systemd-dir', ensureDir(join(root, 'systemd'))],
    ],
  };
}

/** Measures `options.doctorRuns` first runs and as many later runs, alternating. */
export async function measureDoctor(root, options) {
  const server = await prepareServer(root, options.gate, options.doctorClients);
  const usageFile = join(root, 'usage.json');
  const run = async () => {
    const result = await runNodeWithUsage(server.args, {
      usageFile,
      exitCodes: REPORT_EXIT_CODES,
    });
    return result.wallMs;
  };
  // Warm-up: page cache and the policy cache.
  await run();
  const first = [];
  const later = [];
  for (let round = 0; round < options.doctorRuns; round += 1) {
    rmSync(join(server.stateDir, 'doctor-state.json'), { force: true });
    first.push(await run());
    later.push(await run());
  }
  const size = `${options.doctorClients.toLocaleString('en-US')} clients and repositories`;
  return [
    {
      figure: `doctor, ${size}, first run`,
      subject: 'borg-gate doctor',
      unit: 'ms',
      target: { max: 2000 },
      summary: summariseSamples(first),
    },
    {
      figure: `doctor, ${size}, later runs`,
      subject: 'borg-gate doctor',
      unit: 'ms',
      target: { max: 2000 },
      summary: summariseSamples(later),
    },
  ];
}
