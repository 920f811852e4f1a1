import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import {
  chmod,
  cp,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  rm,
  stat,
  writeFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { crc32 } from 'node:zlib';
import { stringify as stringifyYaml } from 'yaml';

const run = promisify(execFile);

export const BORG = '/usr/bin/borg';
export const PASSPHRASE = 'correct horse battery staple';

/** Creates a temp dir whose path has no `..`, trailing slash or symlink surprises. */
export async function makeTempDir(prefix: string): Promise<string> {
  return mkdtemp(join(tmpdir(), `borg-gate-${prefix}-`));
}

export async function removeTempDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}

function borgEnv(dir: string): NodeJS.ProcessEnv {
  return {
    PATH: '/usr/bin:/bin',
    HOME: dir,
    BORG_BASE_DIR: join(dir, 'client-borg'),
    BORG_PASSPHRASE: PASSPHRASE,
    BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK: 'yes',
  };
}

/**
 * Creates a repository at `dir/name` with one archive holding 200 kB of random data,
 * which borg stores as its own chunk: the object the verify-data test corrupts.
 */
export async function createRepository(
  dir: string,
  name: string,
  encryption: 'repokey-blake2' | 'none' = 'repokey-blake2',
): Promise<string> {
  const repository = join(dir, name);
  const source = join(dir, `${name}-source`);
  await mkdir(source);
  const random = Buffer.alloc(200_000);
  for (let i = 0; i < random.length; i++) {
    random[i] = Math.floor(Math.random() * 256);
  }
  await writeFile(join(source, 'random.bin'), random);
  await writeFile(join(source, 'note.txt'), 'borg-gate check fixture\n');
  const env = borgEnv(dir);
  await run(BORG, ['init', '--encryption', encryption, repository], { env });
  await run(BORG, ['create', `${repository}::first`, source], { env, cwd: dir });
  return repository;
}

/**
 * Copies a repository made by `createRepository`, which is faster than a new one. Copies
 * share the repository id, so each needs its own BORG_BASE_DIR for key-loading checks.
 */
export async function copyRepository(template: string, destination: string): Promise<string> {
  await cp(template, destination, { recursive: true });
  return destination;
}

async function segmentFiles(repository: string): Promise<string[]> {
  const directory = join(repository, 'data', '0');
  const names = (await readdir(directory)).filter((name) => /^[0-9]+$/.test(name));
  return names.sort((a, b) => Number(a) - Number(b)).map((name) => join(directory, name));
}

async function largestSegment(repository: string): Promise<string> {
  let best = '';
  let bestSize = -1;
  for (const file of await segmentFiles(repository)) {
    const size = (await stat(file)).size;
    if (size > bestSize) {
      best = file;
      bestSize = size;
    }
  }
  return best;
}

/** Flips one byte in the middle of the largest segment, which breaks that entry's CRC32. */
export async function corruptSegmentByte(repository: string): Promise<string> {
  const file = await largestSegment(repository);
  const data = await readFile(file);
  const offset = Math.floor(data.length / 2);
  data[offset] = data[offset]! ^ 0xff;
  await writeFile(file, data);
  return file;
}

/** borg 1.2 segment layout: 8-byte magic, then entries of crc32, size, tag, 32-byte id, payload. */
const SEGMENT_MAGIC_LENGTH = 8;
const PUT_HEADER_LENGTH = 41;
const TAG_PUT = 0;

/**
 * Flips one payload byte of the largest PUT entry and rewrites that entry's CRC32, so
 * the segment still passes `--repository-only` while the chunk's MAC (or id hash)
 * no longer matches and only `--verify-data` can see the damage.
 */
export async function corruptChunkKeepingCrc(repository: string): Promise<string> {
  const file = await largestSegment(repository);
  const data = await readFile(file);
  let offset = SEGMENT_MAGIC_LENGTH;
  let target: { offset: number; size: number } | undefined;
  while (offset + 9 <= data.length) {
    const size = data.readUInt32LE(offset + 4);
    const tag = data[offset + 8];
    if (tag === TAG_PUT && (target === undefined || size > target.size)) {
      target = { offset, size };
    }
    offset += size;
  }
  if (target === undefined || target.size <= PUT_HEADER_LENGTH + 100) {
    throw new Error(`no large PUT entry found in ${file}`);
  }
  const flip =
    target.offset + PUT_HEADER_LENGTH + Math.floor((target.size - PUT_HEADER_LENGTH) / 2);
  data[flip] = data[flip]! ^ 0xff;
  const checksum = crc32(data.subarray(target.offset + 4, target.offset + target.size));
  data.writeUInt32LE(checksum >>> 0, target.offset);
  await writeFile(file, data);
  return file;
}

/** Holds the repository's exclusive lock with `borg with-lock REPO sleep N` until killed. */
export async function holdLock(
  dir: string,
  repository: string,
  seconds: number,
): Promise<ChildProcess> {
  const child = spawn(BORG, ['with-lock', repository, 'sleep', String(seconds)], {
    env: borgEnv(dir),
    stdio: 'ignore',
  });
  const deadline = Date.now() + 10_000;
  while (!existsSync(join(repository, 'lock.exclusive'))) {
    if (Date.now() > deadline) {
      child.kill();
      throw new Error(`borg with-lock did not lock ${repository} within 10 s`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return child;
}

export async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) {
    return;
  }
  const closed = new Promise((resolve) => child.once('close', resolve));
  child.kill('SIGTERM');
  await closed;
}

/** Writes a passphrase file with the given mode. */
export async function writePassphraseFile(dir: string, mode: number): Promise<string> {
  const file = join(dir, `passphrase-${mode.toString(8)}`);
  await writeFile(file, `${PASSPHRASE}\n`, { mode });
  await chmod(file, mode);
  return file;
}

/**
 * Writes an alert command that appends its environment (BORG_GATE_* only) and stdin
 * to `dir/alerts.jsonl`, one JSON line per call. Returns the script and log paths.
 */
export async function writeAlertRecorder(dir: string): Promise<{ script: string; log: string }> {
  const script = join(dir, 'record-alert.mjs');
  const log = join(dir, 'alerts.jsonl');
  const source = `#!${process.execPath}
import { appendFileSync, readFileSync } from 'node:fs';
const stdin = readFileSync(0, 'utf8');
const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith('BORG_GATE_')));
appendFileSync(${JSON.stringify(log)}, JSON.stringify({ env, stdin: JSON.parse(stdin), envKeys: Object.keys(process.env) }) + '\\n');
`;
  await writeFile(script, source, { mode: 0o755 });
  return { script, log };
}

export interface RecordedAlert {
  env: Record<string, string>;
  stdin: Record<string, unknown>;
  envKeys: string[];
}

export async function readAlerts(log: string): Promise<RecordedAlert[]> {
  if (!existsSync(log)) {
    return [];
  }
  const text = await readFile(log, 'utf8');
  return text
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as RecordedAlert);
}

/**
 * Writes a policy whose audit log and state live in `dir`, with the given `checks`
 * section and one client that owns `clientRepositories`.
 */
export async function writeCheckPolicy(
  dir: string,
  checks: Record<string, unknown>,
  clientRepositories: string[] = [],
): Promise<string> {
  const file = join(dir, 'policy.yaml');
  const policy = {
    version: 1,
    audit_log: join(dir, 'audit.log'),
    state_dir: join(dir, 'state'),
    checks,
    clients: [
      {
        id: 'client-a',
        keys: ['ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFixture client-a'],
        repositories: clientRepositories,
      },
    ],
  };
  await writeFile(file, stringifyYaml(policy), { mode: 0o644 });
  return file;
}

/** Collects what the check command writes to stderr; `isTTY` false keeps progress off. */
export function captureStderr(): {
  stream: { write(text: string): boolean; isTTY: false };
  text(): string;
} {
  const chunks: string[] = [];
  return {
    stream: {
      isTTY: false,
      write(text: string) {
        chunks.push(text);
        return true;
      },
    },
    text: () => chunks.join(''),
  };
}

/** Reads the audit log's `check` records. */
export async function readCheckAuditRecords(dir: string): Promise<Record<string, unknown>[]> {
  const file = join(dir, 'audit.log');
  if (!existsSync(file)) {
    return [];
  }
  return (await readFile(file, 'utf8'))
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as Record<string, unknown>)
    .filter((record) => record.event === 'check');
}
