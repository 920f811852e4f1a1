import { spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pack, request } from '../lib/rpc/fixtures/pack.js';
import { sshOptions } from './harness/gate.js';
import {
  E2E_FAULT_TIMEOUT_MS,
  expectRecovered,
  type InterruptFixture,
  startBackup,
  startInterruptFixture,
} from './harness/interrupted-create.js';
import { borgServeProcesses, exitOf, gateProcesses, waitFor } from './harness/processes.js';

// borg 1.2 handles SIGTERM itself and exits with code 143. It may first send the client an error
// reply, and if the client closes before borg exits, borg exits 0 and the error reply shows.
const REASONS = {
  SIGTERM:
    /^(borg-failed: borg serve exited with code 143|borg-error: borg serve replied with \w+, then the client closed the connection)/,
  SIGKILL:
    /^borg-killed: borg serve was killed by SIGKILL, before the data it stored was committed$/,
};

describe('borg serve killed mid-create', { timeout: E2E_FAULT_TIMEOUT_MS }, () => {
  let fixture: InterruptFixture;

  beforeAll(async () => {
    fixture = await startInterruptFixture();
  });

  afterAll(async () => {
    await fixture?.gate.close();
  });

  it.each(['SIGTERM', 'SIGKILL'] as const)('%s to borg serve ends the session', async (signal) => {
    const before = fixture.gate.auditRecords().length;
    const running = await startBackup(fixture, `borg-${signal}`);
    process.kill(running.borgServe.pid, signal);
    await expectRecovered(fixture, running, before, {
      staleLock: signal === 'SIGKILL',
      evidence: signal === 'SIGTERM' ? 'no-commit' : 'exit',
      reason: REASONS[signal],
    });
  });

  it('SIGKILL while the client waits ends the connection', async () => {
    const { gate, repo } = fixture;
    const ssh = spawn(
      'ssh',
      [
        ...sshOptions(gate.key('host').privateKey),
        '-p',
        String(gate.sshd.port),
        `${gate.sshd.user}@127.0.0.1`,
        'borg serve',
      ],
      { stdio: ['pipe', 'ignore', 'ignore'] },
    );
    const sshExit = exitOf(ssh);
    // negotiate and open, then nothing: the client waits for replies with its input still open.
    ssh.stdin.write(pack([1, 1, 'negotiate', [{ client_version: [1, 2, 4, -1] }]]));
    ssh.stdin.write(
      request(2, 'open', {
        path: repo,
        create: false,
        lock_wait: 1,
        lock: true,
        exclusive: false,
        append_only: false,
        make_parent_dirs: false,
      }),
    );
    await waitFor(() => borgServeProcesses(repo).length === 1, 20_000, 'borg serve started');
    process.kill(borgServeProcesses(repo)[0]!.pid, 'SIGKILL');
    const outcome = await Promise.race([sshExit, sleep(15_000, 'still connected')]);
    ssh.kill('SIGKILL');
    ssh.stdin.destroy();
    expect(outcome).not.toBe('still connected');
    expect(gateProcesses(gate.policyFile)).toEqual([]);
  });
});
