import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
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

/** A gate with one read-write client, an initialised repository and a slow-to-back-up source. */
export interface InterruptFixture {
  gate: GateFixture;
  repo: string;
  /** Filled with 192 MB of new random data before each interrupted backup. */
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
}

/**
 * Fills the source with new random data, starts `borg create` and resolves once borg serve has
 * been receiving data for a while.
 */
export async function startBackup(
  fixture: InterruptFixture,
  archive: string,
): Promise<RunningBackup> {
  const { gate, repo, source } = fixture;
  // Incompressible and new each time, so deduplication cannot finish the backup before the fault.
  for (let index = 0; index < 12; index += 1) {
    writeFileSync(join(source, `blob${index}`), randomBytes(16 * 1024 * 1024));
  }
  const client = spawnBorgCreate(gate, 'host', `${gate.url(repo)}::${archive}`, source);
  const clientExit = exitOf(client);
  let stderr = '';
  client.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  await waitFor(() => borgServeProcesses(repo).length > 0, 20_000, 'borg serve started');
  // Let borg write some segments, so the fault hits a transaction in progress.
  await sleep(1500);
  const context = () =>
    `client stderr: ${stderr}; audit: ${JSON.stringify(gate.auditRecords().slice(-2))}`;
  expect(client.exitCode, context()).toBeNull();
  const gates = gateProcesses(gate.policyFile);
  const servers = borgServeProcesses(repo);
  expect(gates, context()).toHaveLength(1);
  expect(servers, context()).toHaveLength(1);
  return { client, clientExit, gate: gates[0]!, borgServe: servers[0]!, archive };
}

export interface RecoveryOptions {
  evidence?: FailureEvidence;
  /** borg serve was killed with SIGKILL, so its repository lock stays until the next access. */
  staleLock?: boolean;
}

/**
 * Checks what must hold after any fault mid-backup: no gate or borg serve left running, no
 * repository lock, a session_end record for the interrupted session that does not claim
 * success, a clean `borg check`, and a next backup that succeeds.
 */
export async function expectRecovered(
  fixture: InterruptFixture,
  running: RunningBackup,
  recordsBefore: number,
  options: RecoveryOptions = {},
): Promise<void> {
  const { gate, repo } = fixture;
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
  expect(end).toBeDefined();
  expect(
    endShowsFailure(end!, options.evidence ?? 'exit'),
    `session_end ${JSON.stringify(end)}`,
  ).toBe(true);

  const check = await gate.borg('host', ['check', gate.url(repo)], { timeoutMs: 120_000 });
  expect(withoutStaleLockLines(check.stderr)).toBe('');
  if (options.staleLock) {
    expect(check.stderr).toContain('Killed stale lock');
  }
  expect(check.code).toBe(0);
  // A small backup: the point is that the repository accepts one, not another 192 MB.
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
