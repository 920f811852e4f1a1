import { afterAll, beforeAll, describe, it } from 'vitest';
import {
  E2E_FAULT_TIMEOUT_MS,
  expectRecovered,
  type InterruptFixture,
  startBackup,
  startInterruptFixture,
} from './harness/interrupted-create.js';

describe('gate terminated mid-create', { timeout: E2E_FAULT_TIMEOUT_MS }, () => {
  let fixture: InterruptFixture;

  beforeAll(async () => {
    fixture = await startInterruptFixture();
  });

  afterAll(async () => {
    await fixture?.gate.close();
  });

  it('SIGTERM to serve ends borg and records the end', async () => {
    const before = fixture.gate.auditRecords().length;
    const running = await startBackup(fixture, 'gate-terminated');
    process.kill(running.gate.pid, 'SIGTERM');
    await expectRecovered(fixture, running, before, {
      reason:
        /^gate-terminated: borg-gate received SIGTERM and passed it to borg serve, before the data it stored was committed$/,
    });
  });

  it('SIGKILL to serve leaves no borg serve behind', async () => {
    const before = fixture.gate.auditRecords().length;
    const running = await startBackup(fixture, 'gate-killed');
    // borg serve then reads end of file on the pipe from the gate, and exits.
    process.kill(running.gate.pid, 'SIGKILL');
    await expectRecovered(fixture, running, before, { gateKilled: true });
  });
});
