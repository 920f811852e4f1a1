import { describe, expect, it } from 'vitest';
import type { CheckResult } from '../../../src/lib/check/execute.js';
import { applyResult } from '../../../src/lib/check/runner.js';
import type { CheckOutcome, CheckRecord } from '../../../src/lib/check/state.js';

const NOW = new Date('2026-03-20T12:00:00Z');

function result(outcome: CheckOutcome): CheckResult {
  return {
    repository: '/srv/borg/a',
    kind: 'repository_only',
    outcome,
    message: outcome === 'ok' ? '' : 'detail',
    exitCode: outcome === 'ok' ? 0 : 2,
    durationMs: 10,
  };
}

describe('applyResult', () => {
  it.each([
    ['ok after ok', {}, 'ok', undefined],
    ['failed after ok', {}, 'failed', 'failure'],
    ['timeout', {}, 'timeout', 'failure'],
    ['refused', {}, 'refused', 'failure'],
    ['skipped', {}, 'skipped', undefined],
    ['skipped while failing', { failing: true }, 'skipped', undefined],
    ['ok after failure', { failing: true }, 'ok', 'recovery'],
    [
      'ok after overdue alert',
      { last_overdue_alert: '2026-03-19T00:00:00.000Z' },
      'ok',
      'recovery',
    ],
  ] as [string, Partial<CheckRecord>, CheckOutcome, string | undefined][])(
    '%s',
    (_name, before, outcome, alert) => {
      const record: CheckRecord = { first_seen: '2026-01-01T00:00:00.000Z', ...before };
      expect(applyResult(record, result(outcome), NOW)).toBe(alert);
    },
  );

  it('failing survives a skipped run', () => {
    const record: CheckRecord = { first_seen: '2026-01-01T00:00:00.000Z' };
    applyResult(record, result('failed'), NOW);
    applyResult(record, result('skipped'), NOW);
    expect(record.failing).toBe(true);
    expect(record.retry).toBe(true);
    expect(applyResult(record, result('ok'), NOW)).toBe('recovery');
    expect(record.failing).toBeUndefined();
    expect(record.retry).toBeUndefined();
  });

  it('ok sets last_success', () => {
    const record: CheckRecord = { first_seen: '2026-01-01T00:00:00.000Z' };
    applyResult(record, result('ok'), NOW);
    expect(record.last_success).toBe(NOW.toISOString());
    expect(record.duration_ms).toBe(10);
  });

  it('failure keeps last_success', () => {
    const record: CheckRecord = {
      first_seen: '2026-01-01T00:00:00.000Z',
      last_success: '2026-03-01T00:00:00.000Z',
    };
    applyResult(record, result('failed'), NOW);
    expect(record.last_success).toBe('2026-03-01T00:00:00.000Z');
    expect(record.outcome).toBe('failed');
    expect(record.message).toBe('detail');
  });
});
