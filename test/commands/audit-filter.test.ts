import { describe, expect, it } from 'vitest';
import {
  linePrefilter,
  matchesFilter,
  parseTimeArgument,
  TimeArgumentError,
} from '../../src/commands/audit/filter.js';

const NOW = Date.parse('2026-12-04T12:00:00Z');

describe('parseTimeArgument', () => {
  it.each([
    ['90s', '2026-12-04T11:58:30.000Z'],
    ['30m', '2026-12-04T11:30:00.000Z'],
    ['2h', '2026-12-04T10:00:00.000Z'],
    ['3d', '2026-12-01T12:00:00.000Z'],
    ['1w', '2026-11-27T12:00:00.000Z'],
    ['2026-12-01', '2026-12-01T00:00:00.000Z'],
    ['2026-12-01T10:00:00Z', '2026-12-01T10:00:00.000Z'],
    ['2026-12-01T10:00:00+02:00', '2026-12-01T08:00:00.000Z'],
  ])('%s', (value, expected) => {
    expect(new Date(parseTimeArgument('since', value, NOW)).toISOString()).toBe(expected);
  });

  it.each(['2 hours', 'yesterday', '2026-13-45', '', '-2h', '1y', '12/01/2026'])(
    'rejects %j',
    (value) => {
      expect(() => parseTimeArgument('since', value, NOW)).toThrow(TimeArgumentError);
    },
  );

  it('names the option in the error', () => {
    expect(() => parseTimeArgument('until', 'soon', NOW)).toThrow(/--until "soon"/);
  });
});

describe('matchesFilter', () => {
  const record = {
    time: '2026-12-03T10:00:00.000Z',
    event: 'session_start',
    client_id: 'laptop',
    decision: 'allow',
    restrictions: ['/srv/borg/a', '/srv/borg/b'],
  };

  it.each([
    ['no filter', {}, true],
    ['client match', { client: 'laptop' }, true],
    ['client mismatch', { client: 'lapto' }, false],
    ['decision mismatch', { decision: 'refuse' as const }, false],
    ['event match', { event: 'session_start' }, true],
    ['restriction match', { repository: '/srv/borg/b' }, true],
    ['repository prefix only', { repository: '/srv/borg' }, false],
    ['since before', { since: Date.parse('2026-12-03T09:00:00Z') }, true],
    ['since after', { since: Date.parse('2026-12-03T11:00:00Z') }, false],
    ['until equal', { until: Date.parse('2026-12-03T10:00:00Z') }, true],
    ['until before', { until: Date.parse('2026-12-03T09:59:59Z') }, false],
  ])('%s', (_name, filter, expected) => {
    expect(matchesFilter(record, filter)).toBe(expected);
  });

  it.each([
    ['path grant', '--restrict-to-path /srv/borg/hosts', '/srv/borg/hosts', true],
    ['repository grant', '--restrict-to-repository /srv/borg/a', '/srv/borg/a', true],
    ['other option', '--storage-quota /srv/borg/a', '/srv/borg/a', false],
    ['longer path', '--restrict-to-path /srv/borg/hosts2', '/srv/borg/hosts', false],
  ])('borg 1 restriction: %s', (_name, restriction, repository, expected) => {
    const borg1 = { ...record, repository: '/srv/borg/hosts/web1', restrictions: [restriction] };
    expect(matchesFilter(borg1, { repository })).toBe(expected);
  });

  it('rejects a record without time when time-filtered', () => {
    expect(matchesFilter({ event: 'check' }, { since: 0 })).toBe(false);
  });
});

const TIMED = '{"schema_version":1,"time":"2026-12-01T10:00:00.000Z","event":"check"}';

describe('linePrefilter', () => {
  it.each([
    ['grep present', { grep: 'laptop' }, '{"client_id":"laptop"}', true],
    ['grep absent', { grep: 'server' }, '{"client_id":"laptop"}', false],
    ['client absent', { client: 'server' }, '{"client_id":"laptop"}', false],
    // A backslash is doubled in JSON, so this needle can not be searched in the raw line.
    ['escaped repository skipped', { repository: 'a\\b' }, '{"repository":"a\\\\b"}', true],
    [
      'decision absent',
      { decision: 'refuse' as const },
      '{"decision":"allow","reason":"refuse"}',
      true,
    ],
    ['decision missing', { decision: 'refuse' as const }, '{"decision":"allow"}', false],
    ['time before since', { since: Date.parse('2026-12-02T00:00:00Z') }, TIMED, false],
    ['time after until', { until: Date.parse('2026-11-30T00:00:00Z') }, TIMED, false],
    ['time inside range', { since: Date.parse('2026-12-01T00:00:00Z') }, TIMED, true],
    [
      'time far from start',
      { since: Date.parse('2027-01-01T00:00:00Z') },
      `{"pad":"${'x'.repeat(80)}",${TIMED.slice(1)}`,
      true,
    ],
  ])('%s', (_name, filter, line, expected) => {
    expect(linePrefilter(filter)(line)).toBe(expected);
  });
});
