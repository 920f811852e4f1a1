import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  E2E_FAULT_TIMEOUT_MS,
  expectRecovered,
  type InterruptFixture,
  startBackup,
  startInterruptFixture,
} from './harness/interrupted-create.js';
import { findProcesses, readProcess, sshdAncestor } from './harness/processes.js';

// NOTE: borg serve exits 0 when its input ends, so a dropped connection has exit_code 0 in its
// session_end record. Only the missing commit, and the reason client-disconnected when the input
// ended inside a request, show that the backup did not finish.
// A client that goes away is named as such, never as a server-side failure.
const CLIENT_DROPPED = /^client-disconnected: /;

describe('connection dropped mid-create', { timeout: E2E_FAULT_TIMEOUT_MS }, () => {
  let fixture: InterruptFixture;

  beforeAll(async () => {
    fixture = await startInterruptFixture();
  });

  afterAll(async () => {
    await fixture?.gate.close();
  });

  it('client ssh killed: server side cleans up', async () => {
    const before = fixture.gate.auditRecords().length;
    const running = await startBackup(fixture, 'ssh-killed');
    const key = fixture.gate.key('host').privateKey;
    // Only the ssh client dies; borg on the client side sees its pipe close.
    const ssh = findProcesses(key).filter((info) => info.argv[0] === 'ssh');
    expect(ssh, JSON.stringify(findProcesses(key))).toHaveLength(1);
    process.kill(ssh[0]!.pid, 'SIGKILL');
    await expectRecovered(fixture, running, before, {
      evidence: 'no-commit',
      reason: CLIENT_DROPPED,
    });
  });

  it('sshd session killed: server side cleans up', async () => {
    const before = fixture.gate.auditRecords().length;
    const running = await startBackup(fixture, 'sshd-killed');
    const session = sshdAncestor(running.gate.pid);
    expect(session).toBeDefined();
    // The per-connection sshd process, not the listener that the fixture started.
    expect(readProcess(session!.ppid)?.argv.join(' ')).toContain('sshd');
    process.kill(session!.pid, 'SIGKILL');
    await expectRecovered(fixture, running, before, {
      evidence: 'no-commit',
      reason: CLIENT_DROPPED,
    });
  });
});
