import { execFile, execFileSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  writeFileSync,
} from 'node:fs';
import { join, resolve } from 'node:path';
import { stringify } from 'yaml';
import { removeDir, type Sshd, startSshd } from './sshd.js';

/** The built CLI that sshd runs as the forced command; `npm test` builds it first. */
export const GATE = resolve('dist/borg-gate.js');

export interface ClientKey {
  privateKey: string;
  publicLine: string;
}

export interface BorgResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** One sshd with borg-gate as the forced command, a policy file and an audit log in a temp dir. */
export interface GateFixture {
  dir: string;
  sshd: Sshd;
  policyFile: string;
  auditLog: string;
  fallbackAuditLog: string;
  /** Creates (once) and returns an ed25519 key pair named `name`. */
  key(name: string): ClientKey;
  /** Writes the policy and one authorized_keys line per client key. */
  writePolicy(policy: Record<string, unknown>): void;
  /** `ssh://user@127.0.0.1:port/path` for borg. */
  url(path: string): string;
  /** Runs the real borg client through ssh with the key named `keyName`. */
  borg(keyName: string, args: string[], options?: BorgOptions): Promise<BorgResult>;
  /** Runs the plain ssh client with the key named `keyName` and a remote command. */
  ssh(keyName: string, remoteCommand: string[], input?: string): Promise<BorgResult>;
  auditRecords(): Array<Record<string, unknown>>;
  close(): Promise<void>;
}

export interface BorgOptions {
  env?: Record<string, string>;
  cwd?: string;
  timeoutMs?: number;
}

export async function startGate(
  options: { extraSshdConfig?: string[] } = {},
): Promise<GateFixture> {
  if (!existsSync(GATE)) {
    throw new Error(`${GATE} is missing; run npm run build first`);
  }
  const dir = mkdtempSync('/tmp/borg-gate-e2e-');
  chmodSync(dir, 0o755);
  mkdirSync(join(dir, 'sshd'));
  const sshd = await startSshd({ dir: join(dir, 'sshd'), extraConfig: options.extraSshdConfig });
  const policyFile = join(dir, 'policy.yaml');
  const auditLog = join(dir, 'log', 'audit.log');
  const fallbackAuditLog = join(dir, 'log', 'fallback.log');
  mkdirSync(join(dir, 'log'));
  mkdirSync(join(dir, 'client'));
  const keys = new Map<string, ClientKey>();
  let lastPolicy: Record<string, unknown> = {};
  const fixture: GateFixture = {
    dir,
    sshd,
    policyFile,
    auditLog,
    fallbackAuditLog,
    key(name) {
      let key = keys.get(name);
      if (key === undefined) {
        key = makeKey(join(dir, 'client'), name);
        keys.set(name, key);
      }
      return key;
    },
    writePolicy(policy) {
      lastPolicy = { version: 1, audit_log: auditLog, ...policy };
      writeFileSync(policyFile, stringify(lastPolicy), { mode: 0o644 });
      sshd.setAuthorizedKeys(authorizedKeysFor(lastPolicy, policyFile, fallbackAuditLog));
    },
    url: (path) => `ssh://${sshd.user}@127.0.0.1:${sshd.port}${path}`,
    borg: (keyName, args, borgOptions = {}) => runBorg(fixture, keyName, args, borgOptions),
    ssh: (keyName, remoteCommand, input) =>
      run(
        'ssh',
        [
          ...sshOptions(fixture.key(keyName).privateKey),
          '-p',
          String(sshd.port),
          `${sshd.user}@127.0.0.1`,
          ...remoteCommand,
        ],
        {
          input,
          timeoutMs: 20_000,
        },
      ),
    auditRecords: () => readJsonLines(auditLog),
    close: async () => {
      await sshd.stop();
      removeDir(dir);
    },
  };
  return fixture;
}

function makeKey(dir: string, name: string): ClientKey {
  const privateKey = join(dir, `id_${name}`);
  execFileSync('ssh-keygen', [
    '-q',
    '-t',
    'ed25519',
    '-N',
    '',
    '-C',
    `${name}@test`,
    '-f',
    privateKey,
  ]);
  return { privateKey, publicLine: readFileSync(`${privateKey}.pub`, 'utf8').trim() };
}

/** authorized_keys lines as `borg-gate keys` writes them, for tests that do not test the generator. */
function authorizedKeysFor(
  policy: Record<string, unknown>,
  policyFile: string,
  fallback: string,
): string {
  const clients = (policy.clients ?? []) as Array<{
    id: string;
    keys: Array<string | { key: string }>;
  }>;
  const lines: string[] = [];
  for (const client of clients) {
    for (const key of client.keys) {
      const text = typeof key === 'string' ? key : key.key;
      const command = `${GATE} serve --client ${client.id} --policy ${policyFile} --audit-log ${fallback}`;
      lines.push(`command="${command}",restrict ${text}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

/** ssh client options for a test key: no user config, no host key prompts, no agent. */
export function sshOptions(privateKey: string): string[] {
  return [
    '-F',
    '/dev/null',
    '-i',
    privateKey,
    '-o',
    'IdentitiesOnly=yes',
    '-o',
    'StrictHostKeyChecking=no',
    '-o',
    'UserKnownHostsFile=/dev/null',
    '-o',
    'BatchMode=yes',
    '-o',
    'LogLevel=ERROR',
  ];
}

function runBorg(
  fixture: GateFixture,
  keyName: string,
  args: string[],
  options: BorgOptions,
): Promise<BorgResult> {
  const key = fixture.key(keyName);
  const rsh = ['ssh', ...sshOptions(key.privateKey)];
  const env = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: join(fixture.dir, 'client'),
    BORG_BASE_DIR: join(fixture.dir, 'client', keyName),
    BORG_RSH: rsh.join(' '),
    BORG_PASSPHRASE: '',
    BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK: 'yes',
    BORG_RELOCATED_REPO_ACCESS_IS_OK: 'yes',
    BORG_DELETE_I_KNOW_WHAT_I_AM_DOING: 'YES',
    BORG_CHECK_I_KNOW_WHAT_I_AM_DOING: 'YES',
    ...options.env,
  };
  return run('borg', args, { env, cwd: options.cwd, timeoutMs: options.timeoutMs ?? 60_000 });
}

/**
 * Runs a client program and collects its exit code and output. A refused ssh may exit before it
 * reads its input, so a failed write to its stdin is ignored.
 */
export function run(
  file: string,
  args: string[],
  options: { env?: NodeJS.ProcessEnv; input?: string; timeoutMs?: number; cwd?: string },
): Promise<BorgResult> {
  return new Promise((resolvePromise) => {
    const child = execFile(
      file,
      args,
      {
        env: options.env ?? process.env,
        timeout: options.timeoutMs ?? 60_000,
        maxBuffer: 64 * 1024 * 1024,
        cwd: options.cwd,
      },
      (error, stdout, stderr) => {
        let code = 0;
        if (error !== null) {
          code = typeof error.code === 'number' ? error.code : -1;
        }
        resolvePromise({ code, stdout: String(stdout), stderr: String(stderr) });
      },
    );
    child.stdin?.on('error', () => undefined);
    child.stdin?.end(options.input ?? '');
  });
}

export function readJsonLines(file: string): Array<Record<string, unknown>> {
  if (!existsSync(file)) {
    return [];
  }
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

/** Creates a directory with a few files to back up. */
export function makeSourceTree(
  dir: string,
  files: Record<string, string | Buffer> = { 'a.txt': 'alpha\n', 'sub/b.txt': 'beta\n' },
): string {
  for (const [name, content] of Object.entries(files)) {
    const path = join(dir, name);
    mkdirSync(resolve(path, '..'), { recursive: true });
    writeFileSync(path, content);
  }
  return dir;
}
