import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { stringify } from 'yaml';
import { type BorgOptions, type BorgResult, GATE, readJsonLines, run, sshOptions } from './gate.js';
import { removeDir } from './sshd.js';

export { run };

/** A `borg-gate listen` process on 127.0.0.1 with its policy, audit log and keys in a temp dir. */
export interface ListenFixture {
  dir: string;
  port: number;
  process: ChildProcess;
  policyFile: string;
  auditLog: string;
  fallbackAuditLog: string;
  hostKeyFile: string;
  /** Creates (once) and returns an ed25519 key pair named `name`. */
  key(name: string): { privateKey: string; publicLine: string };
  writePolicy(policy: Record<string, unknown>): void;
  /** `ssh://borg@127.0.0.1:port/path` for borg. */
  url(path: string): string;
  borg(keyName: string, args: string[], options?: BorgOptions): Promise<BorgResult>;
  /** Environment for a borg client that uses the key named `keyName`, for spawning borg directly. */
  borgEnv(keyName: string): NodeJS.ProcessEnv;
  ssh(
    keyName: string,
    remoteCommand: string[],
    input?: string,
    extra?: string[],
  ): Promise<BorgResult>;
  /** ssh options for a key plus the port, for scp, sftp and ssh with extra flags. */
  sshArgs(keyName: string): string[];
  auditRecords(): Array<Record<string, unknown>>;
  /** Service log records (pino JSON lines from the server's stderr) seen so far. */
  logRecords(): Array<Record<string, unknown>>;
  /** Resolves with the first log record that matches, or rejects after `timeoutMs`. */
  waitForLog(
    match: (record: Record<string, unknown>) => boolean,
    timeoutMs?: number,
  ): Promise<Record<string, unknown>>;
  /** Resolves with the exit code once the server process has ended. */
  exited: Promise<number | null>;
  close(): Promise<void>;
}

export interface ListenStartOptions {
  extraArgs?: string[];
}

const USER = 'borg';

export async function startListen(options: ListenStartOptions = {}): Promise<ListenFixture> {
  if (!existsSync(GATE)) {
    throw new Error(`${GATE} is missing; run npm run build first`);
  }
  const dir = mkdtempSync('/tmp/borg-gate-listen-');
  chmodSync(dir, 0o755);
  for (const sub of ['log', 'client', 'server']) {
    mkdirSync(join(dir, sub));
  }
  const policyFile = join(dir, 'policy.yaml');
  const auditLog = join(dir, 'log', 'audit.log');
  const fallbackAuditLog = join(dir, 'log', 'fallback.log');
  const hostKeyFile = join(dir, 'server', 'host_ed25519_key');
  const writePolicy = (policy: Record<string, unknown>) => {
    writeFileSync(policyFile, stringify({ version: 1, audit_log: auditLog, ...policy }), {
      mode: 0o644,
    });
  };
  writePolicy({ clients: [] });
  const child = spawn(
    process.execPath,
    [
      GATE,
      'listen',
      '--port',
      '0',
      '--host-key',
      hostKeyFile,
      '--policy',
      policyFile,
      '--audit-log',
      fallbackAuditLog,
      ...(options.extraArgs ?? []),
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  const records: Array<Record<string, unknown>> = [];
  const waiters: Array<() => void> = [];
  createInterface({ input: child.stderr! }).on('line', (line) => {
    try {
      records.push(JSON.parse(line) as Record<string, unknown>);
    } catch {
      records.push({ event: 'not-json', line });
    }
    for (const wake of waiters.splice(0)) {
      wake();
    }
  });
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => resolve(code)),
  );
  const waitForLog = (match: (record: Record<string, unknown>) => boolean, timeoutMs = 10_000) =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`no matching log record; seen: ${JSON.stringify(records)}`)),
        timeoutMs,
      );
      const check = () => {
        const found = records.find(match);
        if (found !== undefined) {
          clearTimeout(timer);
          resolve(found);
        } else {
          waiters.push(check);
        }
      };
      check();
    });
  const start = await waitForLog(
    (record) => record.event === 'listen_start' || record.event === 'listen_failed',
  );
  if (start.event !== 'listen_start') {
    throw new Error(`listen did not start: ${JSON.stringify(start)}`);
  }
  const port = Number(start.port);
  const keys = new Map<string, { privateKey: string; publicLine: string }>();
  const key = (name: string) => {
    let found = keys.get(name);
    if (found === undefined) {
      found = makeKey(join(dir, 'client'), name);
      keys.set(name, found);
    }
    return found;
  };
  const sshArgs = (keyName: string) => [...sshOptions(key(keyName).privateKey), '-p', String(port)];
  const fixture: ListenFixture = {
    dir,
    port,
    process: child,
    policyFile,
    auditLog,
    fallbackAuditLog,
    hostKeyFile,
    key,
    writePolicy,
    url: (path) => `ssh://${USER}@127.0.0.1:${port}${path}`,
    borgEnv: (keyName) => borgEnvironment(dir, key(keyName).privateKey, keyName),
    borg: (keyName, args, borgOptions = {}) =>
      runBorg(dir, key(keyName).privateKey, keyName, args, borgOptions),
    ssh: (keyName, remoteCommand, input, extra = []) =>
      run('ssh', [...sshArgs(keyName), ...extra, `${USER}@127.0.0.1`, ...remoteCommand], {
        input,
        timeoutMs: 20_000,
      }),
    sshArgs,
    auditRecords: () => readJsonLines(auditLog),
    logRecords: () => [...records],
    waitForLog,
    exited,
    close: async () => {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await exited;
      }
      removeDir(dir);
    },
  };
  return fixture;
}

function makeKey(dir: string, name: string): { privateKey: string; publicLine: string } {
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

function borgEnvironment(dir: string, privateKey: string, keyName: string): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: join(dir, 'client'),
    BORG_BASE_DIR: join(dir, 'client', keyName),
    BORG_RSH: ['ssh', ...sshOptions(privateKey)].join(' '),
    BORG_PASSPHRASE: '',
    BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK: 'yes',
    BORG_RELOCATED_REPO_ACCESS_IS_OK: 'yes',
  };
}

function runBorg(
  dir: string,
  privateKey: string,
  keyName: string,
  args: string[],
  options: BorgOptions,
): Promise<BorgResult> {
  const env = { ...borgEnvironment(dir, privateKey, keyName), ...options.env };
  return run('borg', args, { env, cwd: options.cwd, timeoutMs: options.timeoutMs ?? 60_000 });
}
