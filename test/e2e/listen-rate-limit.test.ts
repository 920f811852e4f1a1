import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ListenFixture, startListen } from './harness/listen.js';

const ATTEMPTS = 100;
const BURST = 10;

describe('failed logins through listen', () => {
  let server: ListenFixture;

  beforeAll(async () => {
    // A refill time far longer than the test, so the count of allowed failures is exact.
    server = await startListen({
      extraArgs: ['--max-auth-failures', String(BURST), '--auth-failure-refill', '3600'],
    });
    server.writePolicy({
      clients: [{ id: 'app', keys: [server.key('app').publicLine], repositories: ['/srv/app'] }],
    });
  });

  afterAll(async () => {
    await server?.close();
  });

  it('100 bad keys hit the rate limit', async () => {
    const results = [];
    for (let batch = 0; batch < ATTEMPTS / 10; batch += 1) {
      const attempts = Array.from({ length: 10 }, () => server.ssh('intruder', ['borg', 'serve']));
      results.push(...(await Promise.all(attempts)));
    }
    expect(results.map((result) => result.code)).toEqual(Array(ATTEMPTS).fill(255));
    const denied = results.filter((result) => result.stderr.includes('Permission denied'));
    expect(denied.length).toBeGreaterThanOrEqual(BURST);
    // A batch may all be admitted before its failures are counted, so a few more get through.
    expect(denied.length).toBeLessThan(BURST + 10);

    await server.waitForLog(() => countRefused(server) === ATTEMPTS);
    const refused = server.logRecords().filter((record) => record.event === 'connection_refused');
    const failed = refused.filter((record) => record.reason === 'auth-failed');
    const limited = refused.filter((record) => record.reason === 'auth-rate-limited');
    expect(failed).toHaveLength(denied.length);
    expect(limited).toHaveLength(ATTEMPTS - denied.length);
    expect(failed.filter((record) => record.source_blocked === true).length).toBeGreaterThan(0);
    expect(server.auditRecords()).toEqual([]);
  }, 120_000);

  it('blocked source cannot use a good key', async () => {
    const result = await server.ssh('app', ['borg', 'serve']);
    expect(result.code).toBe(255);
    expect(result.stderr).not.toContain('borg-gate');
  });
});

function countRefused(server: ListenFixture): number {
  return server.logRecords().filter((record) => record.event === 'connection_refused').length;
}
