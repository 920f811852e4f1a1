import { execFile, execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';

/** The built CLI; `npm test` builds it first. */
export const GATE = resolve('dist/borg-gate.js');

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

const run = promisify(execFile);

/** Runs the built borg-gate CLI and returns its exit code and output, never throwing on exit code. */
export async function runGate(args: string[], input?: string): Promise<RunResult> {
  if (!existsSync(GATE)) {
    throw new Error(`${GATE} is missing; run npm run build first`);
  }
  return runProcess(process.execPath, [GATE, ...args], input);
}

export async function runProcess(file: string, args: string[], input?: string): Promise<RunResult> {
  const child = run(file, args, { timeout: 30_000, encoding: 'utf8' });
  if (input !== undefined) {
    child.child.stdin?.end(input);
  }
  try {
    const { stdout, stderr } = await child;
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string };
    return { code: failed.code ?? -1, stdout: failed.stdout ?? '', stderr: failed.stderr ?? '' };
  }
}

/** Creates a temp dir readable by other users, for sshd's AuthorizedKeysCommandUser. */
export function makeTestDir(prefix: string): string {
  const dir = mkdtempSync(`/tmp/${prefix}`);
  chmodSync(dir, 0o755);
  return dir;
}

/** Generates an Ed25519 key pair and returns the private key path and the `.pub` line. */
export function makeKey(dir: string, name: string): { privateKey: string; publicLine: string } {
  const privateKey = join(dir, name);
  execFileSync('ssh-keygen', [
    '-q',
    '-t',
    'ed25519',
    '-N',
    '',
    '-C',
    `${name}@client`,
    '-f',
    privateKey,
  ]);
  return { privateKey, publicLine: readFileSync(`${privateKey}.pub`, 'utf8').trim() };
}

/**
 * Writes a stand-in for borg-gate that prints its arguments and SSH_ORIGINAL_COMMAND, so a test
 * can see exactly which forced command sshd ran.
 */
export function writeEchoGate(dir: string): string {
  const file = join(dir, 'echo-gate');
  writeFileSync(
    file,
    '#!/bin/sh\nprintf "argv: %s\\n" "$*"\nprintf "original: %s\\n" "$SSH_ORIGINAL_COMMAND"\n',
    { mode: 0o755 },
  );
  return file;
}

/** Runs the OpenSSH client against 127.0.0.1 with exactly one key and no agent. */
export function sshAs(
  port: number,
  user: string,
  privateKey: string,
  remoteCommand: string,
): Promise<RunResult> {
  return runProcess('ssh', [
    '-F',
    '/dev/null',
    '-p',
    String(port),
    '-i',
    privateKey,
    '-o',
    'IdentitiesOnly=yes',
    '-o',
    'IdentityAgent=none',
    '-o',
    'BatchMode=yes',
    '-o',
    'StrictHostKeyChecking=no',
    '-o',
    'UserKnownHostsFile=/dev/null',
    '-o',
    'LogLevel=ERROR',
    `${user}@127.0.0.1`,
    remoteCommand,
  ]);
}
