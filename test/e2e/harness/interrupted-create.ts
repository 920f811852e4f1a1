import type { ChildProcess } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { expect } from 'vitest';
import { type GateFixture, makeSourceTree, startGate } from './gate.js';
import {
  borgServeProcesses,
  exitOf,
  gateProcesses,
  type ProcessInfo,
  serverProcesses,
  spawnBorgCreate,
  waitFor,
} from './processes.js';
import { lockFiles } from './repo-files.js';

/**
 * Time for one fault test: a backup, the fault, borg check and a second backup each start
 * borg through ssh, which takes much longer while other end-to-end tests share the CPU.
 */
export const E2E_FAULT_TIMEOUT_MS = 240_000;

/** A gate with one read-write client, an initialised repository and a source for a FIFO. */
export interface InterruptFixture {
  gate: GateFixture;
  repo: string;
  /** Holds only the FIFO that an interrupted backup reads. */
  source: string;
  /** A few small files for the backup that follows the fault. */
  smallSource: string;
}

export async function startInterruptFixture(): Promise<InterruptFixture> {
  const gate = await startGate();
  const repo = join(gate.dir, 'repo');
  const source = join(gate.dir, 'source');
  mkdirSync(source);
  gate.writePolicy({
    clients: [
      {
        id: 'host',
        keys: [gate.key('host').publicLine],
        repositories: [repo],
        mode: 'read-write',
      },
    ],
  });
  const init = await gate.borg('host', ['init', '-e', 'none', gate.url(repo)]);
  expect(init.stderr).toBe('');
  expect(init.code).toBe(0);
  const smallSource = makeSourceTree(join(gate.dir, 'small'));
  return { gate, repo, source, smallSource };
}

/** The processes of one running backup, found once it reached borg serve. */
export interface RunningBackup {
  client: ChildProcess;
  clientExit: Promise<number | string>;
  gate: ProcessInfo;
  borgServe: ProcessInfo;
  archive: string;
  /** Closes the FIFO, so a borg client that is still alive reads its end and goes on. */
  endInput: () => Promise<void>;
}

/**
 * Starts `borg create --read-special` on a source whose only file is a FIFO, writes 32 MB of
 * random data into it and keeps it open. borg then waits for more input in the middle of its
 * transaction for as long as the test needs, and resolves once the data reached the server.
 */
export async function startBackup(
  fixture: InterruptFixture,
  archive: string,
): Promise<RunningBackup> {
  const { gate, repo, source } = fixture;
  const fifo = join(source, 'stream');
  rmSync(fifo, { force: true });
  execFileSync('mkfifo', [fifo]);
  const url = `${gate.url(repo)}::${archive}`;
  const client = spawnBorgCreate(gate, 'host', url, source, ['--read-special']);
  const clientExit = exitOf(client);
  let stderr = '';
  client.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const context = () =>
    `client stderr: ${stderr}; audit: ${JSON.stringify(gate.auditRecords().slice(-2))}`;
  // Opening a FIFO for writing waits until borg opens it for reading.
  const writer = await open(fifo, 'w');

  // Random data, new each time, so deduplication cannot skip the upload.
  for (let index = 0; index < 16; index += 1) {
    await writer.write(randomBytes(2 * 1024 * 1024));
  }

  await waitFor(() => borgServeProcesses(repo).length > 0, 20_000, 'borg serve started');
  // borg sends a chunk once it is cut, so give the last full chunks time to reach the server.
  await sleep(1000);
  expect(client.exitCode, context()).toBeNull();
  const gates = gateProcesses(gate.policyFile);
  const servers = borgServeProcesses(repo);
  expect(gates, context()).toHaveLength(1);
  expect(servers, context()).toHaveLength(1);
  return {
    client,
    clientExit,
    gate: gates[0]!,
    borgServe: servers[0]!,
    archive,
    endInput: () => writer.close(),
  };
}

export interface RecoveryOptions {
  evidence?: FailureEvidence;
  /** borg serve was killed with SIGKILL, so its repository lock stays until the next access. */
  staleLock?: boolean;
  /** The gate was killed with SIGKILL, so the session has a start record and no end record. */
  gateKilled?: boolean;
  /** Expected `reason` of the session_end record. */
  reason?: RegExp;
}

/**
 * Checks what must hold after any fault mid-backup: no gate or borg serve left running, no
 * repository lock (a SIGKILLed borg serve leaves a stale one), a session_end record that does
 * not claim success (none if the gate itself was SIGKILLed), a clean `borg check`, and a next
 * backup that succeeds.
 */
export async function expectRecovered(
  fixture: InterruptFixture,
  running: RunningBackup,
  recordsBefore: number,
  options: RecoveryOptions = {},
): Promise<void> {
  const { gate, repo } = fixture;
  await running.endInput();
  await waitFor(() => serverProcesses(repo, gate.policyFile).length === 0, 30_000).catch(
    () => undefined,
  );
  const left = serverProcesses(repo, gate.policyFile).map((info) => info.argv.join(' '));
  expect(left).toEqual([]);
  const clientExit = await Promise.race([running.clientExit, sleep(30_000, 'still running')]);
  expect(clientExit).not.toBe('still running');
  expect(clientExit).not.toBe(0);
  if (options.staleLock) {
    // Nothing can remove the lock of a borg killed with SIGKILL; the next borg that opens the
    // repository removes it, because its holder is a dead process on this host.
    expect(lockFiles(repo)).toEqual(['lock.exclusive', 'lock.roster']);
  } else {
    expect(lockFiles(repo)).toEqual([]);
  }

  const records = gate.auditRecords().slice(recordsBefore);
  const start = records.find((record) => record.event === 'session_start');
  expect(start).toBeDefined();
  const end = records.find(
    (record) => record.event === 'session_end' && record.session_id === start!.session_id,
  );
  if (options.gateKilled) {
    expect(end).toBeUndefined();
  } else {
    expect(end).toBeDefined();
    expectFailedEnd(end!, options.evidence ?? 'exit');
    if (options.reason !== undefined) {
      expect(String(end!.reason)).toMatch(options.reason);
    }
  }

  const check = await gate.borg('host', ['check', gate.url(repo)], { timeoutMs: 120_000 });
  expect(withoutStaleLockLines(check.stderr)).toBe('');
  if (options.staleLock) {
    expect(check.stderr).toContain('Killed stale lock');
  }
  expect(check.code).toBe(0);
  // A small backup: the point is that the repository accepts one.
  const next = await gate.borg(
    'host',
    ['create', `${gate.url(repo)}::after-${running.archive}`, '.'],
    { cwd: fixture.smallSource, timeoutMs: 120_000 },
  );
  expect(next.stderr).toBe('');
  expect(next.code).toBe(0);
  expect(lockFiles(repo)).toEqual([]);
}

/**
 * What in a session_end record shows that the backup did not finish. 'exit': a non-zero exit
 * code or a signal. 'no-commit': borg 1.2's serve exits 0 when its input ends, even inside a
 * transaction, and after SIGTERM it may send the client an error reply and then see the client
 * close. Such a session shows only as one without a commit, with the reason
 * client-disconnected when the input ended inside a request.
 */
export type FailureEvidence = 'exit' | 'no-commit';

function expectFailedEnd(end: Record<string, unknown>, evidence: FailureEvidence): void {
  expect(endShowsFailure(end, evidence), `session_end ${JSON.stringify(end)}`).toBe(true);
}

function endShowsFailure(end: Record<string, unknown>, evidence: FailureEvidence): boolean {
  if (end.exit_code !== 0 || (end.signal ?? null) !== null) {
    return true;
  }
  const rpc = end.rpc as { commit?: boolean } | undefined;
  // The relay can only tell a drop inside a request; one between requests has no reason.
  const reason = end.reason === undefined || String(end.reason).startsWith('client-disconnected: ');
  return evidence === 'no-commit' && rpc?.commit === false && reason;
}

/** Drops the lines borg prints when it removes the lock of a dead process on this host. */
function withoutStaleLockLines(stderr: string): string {
  return stderr
    .split('\n')
    .filter(
      (line) => !/^Remote: (Killed stale lock|Removed stale exclusive roster lock) /.test(line),
    )
    .join('\n')
    .trim();
}
