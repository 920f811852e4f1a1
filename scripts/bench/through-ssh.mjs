// One sshd with two kinds of forced command side by side: borg-gate, and a plain
// `borg serve` line with the restriction borg-gate would add. Used by the ssh figures.
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runChecked } from './process.mjs';
import { makeKey, sshOptions, startSshd } from './sshd.mjs';

const BORG = '/usr/bin/borg';

/** Environment for the borg client; each key gets its own cache and security directory. */
function borgEnvironment(root, keyName, privateKey) {
  return {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: join(root, 'client'),
    BORG_BASE_DIR: join(root, 'client', keyName),
    BORG_RSH: ['ssh', ...sshOptions(privateKey)].join(' '),
    BORG_PASSPHRASE: '',
    BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK: 'yes',
    // Repositories are created locally and then used over ssh, which borg calls a relocation.
    BORG_RELOCATED_REPO_ACCESS_IS_OK: 'yes',
  };
}

/**
 * Forced-command lines. `gate-*` keys run borg-gate for a policy client, `plain-*` keys run
 * borg serve directly with the same restriction and mode flags.
 */
function authorizedKeys(setup, keys) {
  const gate = (client) =>
    `${setup.gate} serve --client ${client} --policy ${setup.policyFile} --audit-log ${setup.fallbackLog}`;
  const lines = [
    [gate('bench-list'), keys['gate-list']],
    [`${BORG} serve --append-only --restrict-to-repository ${setup.smallRepo}`, keys['plain-list']],
    [gate('bench-data'), keys['gate-data']],
    [`${BORG} serve --append-only --restrict-to-path ${setup.dataRepos}`, keys['plain-data']],
    [gate('bench-read'), keys['gate-read']],
  ];
  return `${lines.map(([command, key]) => `command="${command}",restrict ${key.publicLine}`).join('\n')}\n`;
}

function policyText(setup, keys) {
  const client = (id, key, grant, mode) => [
    `  - id: ${id}`,
    `    keys: ["${key.publicLine}"]`,
    `    ${grant}`,
    `    mode: ${mode}`,
  ];
  return [
    'version: 1',
    `audit_log: ${join(setup.root, 'log', 'audit.log')}`,
    `state_dir: ${join(setup.root, 'state')}`,
    'clients:',
    ...client('bench-list', keys['gate-list'], `repositories: [${setup.smallRepo}]`, 'append-only'),
    ...client('bench-data', keys['gate-data'], `paths: [${setup.dataRepos}]`, 'append-only'),
    ...client('bench-read', keys['gate-read'], `paths: [${setup.dataRepos}]`, 'read-only'),
    '',
  ].join('\n');
}

/** Starts sshd under `root` and returns a runner for borg commands through each key. */
export async function startSshBench(root, gate) {
  for (const name of ['keys', 'log', 'state', 'client', 'repos']) {
    mkdirSync(join(root, name));
  }
  const setup = {
    root,
    gate,
    policyFile: join(root, 'policy.yaml'),
    fallbackLog: join(root, 'log', 'fallback.log'),
    smallRepo: join(root, 'small-repo'),
    dataRepos: join(root, 'repos'),
  };
  const names = ['gate-list', 'plain-list', 'gate-data', 'plain-data', 'gate-read'];
  const keys = Object.fromEntries(names.map((name) => [name, makeKey(join(root, 'keys'), name)]));
  writeFileSync(setup.policyFile, policyText(setup, keys), { mode: 0o600 });
  const sshd = await startSshd(join(root, 'sshd'), authorizedKeys(setup, keys));
  return {
    ...setup,
    user: sshd.user,
    url: (path) => `ssh://${sshd.user}@127.0.0.1:${sshd.port}${path}`,
    /** Runs the borg client through the forced command of `keyName`; rejects unless it exits 0. */
    borg: (keyName, args, options = {}) =>
      runChecked(BORG, args, {
        env: borgEnvironment(root, keyName, keys[keyName].privateKey),
        cwd: options.cwd ?? root,
        timeoutMs: options.timeoutMs ?? 3_600_000,
      }),
    /** Environment of `local`, for other programs that open a local repository. */
    localEnvironment: borgEnvironment(root, 'local', keys['plain-data'].privateKey),
    /** Runs borg on a local repository path, outside ssh. */
    local: (args, options = {}) =>
      runChecked(BORG, args, {
        env: borgEnvironment(root, 'local', keys['plain-data'].privateKey),
        cwd: options.cwd ?? root,
      }),
    stop: () => sshd.stop(),
  };
}

/** Creates `dir` readable by everyone, so borg serve running as another user could reach it. */
export function makeOpenDir(dir) {
  mkdirSync(dir, { recursive: true });
  chmodSync(dir, 0o755);
  return dir;
}
