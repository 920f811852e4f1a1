import { describe, expect, it } from 'vitest';
import { tableRow } from '../../src/commands/audit/format.js';

const base = {
  time: '2026-12-04T10:00:00.123Z',
  event: 'session_refused',
  client_id: 'web1',
  decision: 'refuse',
  repository: '/srv/borg/web1',
};

describe('tableRow', () => {
  it('short reason shown whole', () => {
    const row = tableRow({ ...base, reason: 'repository-not-permitted' });
    expect(row.endsWith('repository-not-permitted')).toBe(true);
  });

  it('long reason cut with hint', () => {
    const row = tableRow({ ...base, reason: `command-not-borg: ${'x'.repeat(4000)}` });
    const detail = row.slice(row.indexOf('command-not-borg'));
    expect(detail.length).toBeLessThan(200);
    expect(detail.endsWith('… (--json shows all)')).toBe(true);
  });
});
