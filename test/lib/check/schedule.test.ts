import { describe, expect, it } from 'vitest';
import { isDue, isOverdue, shouldSendOverdueAlert } from '../../../src/lib/check/schedule.js';
import type { CheckRecord } from '../../../src/lib/check/state.js';
import type { CheckTarget } from '../../../src/lib/check/targets.js';

const DAY = 86_400_000;
const NOW = new Date('2026-03-20T12:00:00Z');

function daysAgo(days: number): string {
  return new Date(NOW.getTime() - days * DAY).toISOString();
}

const target: CheckTarget = {
  repository: '/srv/borg/a',
  everyMs: { repository_only: 7 * DAY, verify_data: 30 * DAY },
  timeoutMs: 3_600_000,
  lockWaitSeconds: 1,
  overdueAfter: { factor: 1.5 },
  alertCommand: undefined,
  passphrase: { type: 'none' },
};

describe('isDue', () => {
  it.each([
    ['never run', undefined, true],
    ['planned, never run', { first_seen: daysAgo(1) }, true],
    ['ran 6 days ago', { first_seen: daysAgo(20), last_run: daysAgo(6) }, false],
    ['ran 7 days ago', { first_seen: daysAgo(20), last_run: daysAgo(7) }, true],
    ['skipped yesterday', { first_seen: daysAgo(20), last_run: daysAgo(1), retry: true }, true],
    [
      'failed yesterday',
      { first_seen: daysAgo(20), last_run: daysAgo(1), outcome: 'failed' },
      false,
    ],
  ] as [string, CheckRecord | undefined, boolean][])('%s', (_name, record, expected) => {
    expect(isDue(record, target, 'repository_only', NOW)).toBe(expected);
  });

  it('verify-data uses its own interval', () => {
    const record: CheckRecord = { first_seen: daysAgo(40), last_run: daysAgo(8) };
    expect(isDue(record, target, 'repository_only', NOW)).toBe(true);
    expect(isDue(record, target, 'verify_data', NOW)).toBe(false);
  });
});

describe('isOverdue', () => {
  it.each([
    ['no record', undefined, false],
    ['success 10 days ago', { first_seen: daysAgo(40), last_success: daysAgo(10) }, false],
    ['success 11 days ago', { first_seen: daysAgo(40), last_success: daysAgo(11) }, true],
    ['never succeeded, new', { first_seen: daysAgo(3) }, false],
    ['never succeeded, old', { first_seen: daysAgo(11) }, true],
  ] as [string, CheckRecord | undefined, boolean][])('%s', (_name, record, expected) => {
    expect(isOverdue(record, target, 'repository_only', NOW)).toBe(expected);
  });
});

describe('shouldSendOverdueAlert', () => {
  it.each([
    ['first time', undefined, true],
    ['alerted yesterday', daysAgo(1), false],
    ['alerted a week ago', daysAgo(7), true],
  ])('%s', (_name, lastAlert, expected) => {
    const record: CheckRecord = { first_seen: daysAgo(40), last_overdue_alert: lastAlert };
    expect(shouldSendOverdueAlert(record, target, 'repository_only', NOW)).toBe(expected);
  });
});
