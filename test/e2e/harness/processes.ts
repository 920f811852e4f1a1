import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { type GateFixture, sshOptions } from './gate.js';

/** One process from /proc: its id, parent id and full argv. */
export interface ProcessInfo {
  pid: number;
  ppid: number;
  argv: string[];
}

/** Lists every process whose argv contains `fragment` as one whole argument or inside one. */
export function findProcesses(fragment: string): ProcessInfo[] {
  const found: ProcessInfo[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) {
      continue;
    }
    const info = readProcess(Number(name));
    if (info?.argv.some((word) => word.includes(fragment))) {
      found.push(info);
    }
  }
  return found;
}

/** Reads one process's argv and parent id; undefined when it exited meanwhile. */
export function readProcess(pid: number): ProcessInfo | undefined {
  try {
    const argv = readFileSync(join('/proc', String(pid), 'cmdline'), 'utf8')
      .split('\0')
      .filter((word) => word !== '');
    const status = readFileSync(join('/proc', String(pid), 'status'), 'utf8');
    const ppid = Number(/^PPid:\s+(\d+)$/m.exec(status)?.[1] ?? '0');
    return { pid, ppid, argv };
  } catch {
    return undefined;
  }
}

/** Processes that serve `repo`: borg serve (restricted to it) and the gate of `policyFile`. */
export function serverProcesses(repo: string, policyFile: string): ProcessInfo[] {
  return [...borgServeProcesses(repo), ...gateProcesses(policyFile)];
}

/** `borg serve` processes restricted to `repo`. */
export function borgServeProcesses(repo: string): ProcessInfo[] {
  return findProcesses(repo).filter((info) => info.argv.includes('serve') && isBorg(info));
}

/** `borg-gate serve` processes started with `--policy policyFile`. */
export function gateProcesses(policyFile: string): ProcessInfo[] {
  return findProcesses(policyFile).filter((info) =>
    info.argv.some((word) => word.endsWith('borg-gate.js')),
  );
}

/** Returns the sshd process closest above `pid` in the process tree, if any. */
export function sshdAncestor(pid: number): ProcessInfo | undefined {
  let current = readProcess(pid);
  while (current !== undefined && current.ppid > 1) {
    const parent = readProcess(current.ppid);
    if (parent?.argv[0]?.startsWith('sshd')) {
      return parent;
    }
    current = parent;
  }
  return undefined;
}

function isBorg(info: ProcessInfo): boolean {
  return info.argv.some((word) => word === '/usr/bin/borg' || word.endsWith('/borg'));
}

/** Polls `condition` every 100 ms and throws when it is still false after `timeoutMs`. */
export async function waitFor(
  condition: () => boolean,
  timeoutMs: number,
  what = 'condition',
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) {
      throw new Error(`${what} not met within ${timeoutMs} ms`);
    }
    await sleep(100);
  }
}

/**
 * Starts `borg create` through the gate in its own process group, so a test can kill the
 * client (borg and its ssh) at once with a negative pid. Only stderr is kept, for diagnostics.
 */
export function spawnBorgCreate(
  gate: GateFixture,
  keyName: string,
  archiveUrl: string,
  cwd: string,
  extraArgs: string[] = [],
): ChildProcess {
  return spawn('borg', ['create', ...extraArgs, archiveUrl, '.'], {
    cwd,
    env: {
      PATH: process.env.PATH,
      HOME: join(gate.dir, 'client'),
      BORG_BASE_DIR: join(gate.dir, 'client', keyName),
      BORG_RSH: ['ssh', ...sshOptions(gate.key(keyName).privateKey)].join(' '),
      BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK: 'yes',
    },
    stdio: ['ignore', 'ignore', 'pipe'],
    detached: true,
  });
}

/** Resolves with the exit code (or signal name) of a child once it exits. */
export function exitOf(child: ChildProcess): Promise<number | string> {
  if (child.exitCode !== null || child.signalCode !== null) {
    return Promise.resolve(child.exitCode ?? String(child.signalCode));
  }
  return new Promise((resolve) => {
    child.once('exit', (code, signal) => resolve(code ?? String(signal)));
  });
}
