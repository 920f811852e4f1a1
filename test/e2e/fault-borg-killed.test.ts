import { afterAll, beforeAll, describe, it } from 'vitest';
import {
  expectRecovered,
  type InterruptFixture,
  startBackup,
  startInterruptFixture,
} from './harness/interrupted-create.js';

describe('borg serve killed mid-create', () => {
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
    await expectRecovered(fixture, running, before, { staleLock: signal === 'SIGKILL' });
  });
});
