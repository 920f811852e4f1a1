import { describe, expect, it } from 'vitest';
import { createProgressReporter, formatElapsed } from '../../../src/lib/check/progress.js';

function fakeStream(isTTY: boolean, columns = 120) {
  const writes: string[] = [];
  return { writes, stream: { isTTY, columns, write: (text: string) => writes.push(text) } };
}

describe('progress reporter', () => {
  it('quiet when not a terminal', () => {
    const { writes, stream } = fakeStream(false);
    const progress = createProgressReporter(stream);
    progress.start('[1/1] /srv/borg/a repository_only');
    progress.update('Checking segments 50.0%');
    progress.finish('done');
    expect(progress.live).toBe(false);
    expect(writes).toEqual([]);
  });

  it('draws label, elapsed and borg text', () => {
    const { writes, stream } = fakeStream(true);
    const progress = createProgressReporter(stream);
    progress.start('[1/2] /srv/borg/a repository_only');
    progress.update('Checking segments 50.0%');
    progress.finish('[1/2] /srv/borg/a repository_only: ok in 0.1 s');
    expect(progress.live).toBe(true);
    expect(writes[1]).toContain('[1/2] /srv/borg/a repository_only  0:00:00');
    expect(writes[1]).toContain('Checking segments 50.0%');
    expect(writes.at(-1)).toBe('\r\x1b[2K[1/2] /srv/borg/a repository_only: ok in 0.1 s\n');
  });

  it('escapes control characters from borg', () => {
    const { writes, stream } = fakeStream(true);
    const progress = createProgressReporter(stream);
    progress.start('x');
    progress.update('evil\x1b]0;title\x07');
    progress.finish('');
    expect(writes[1]).toContain('evil\\x1b]0;title\\x07');
  });

  it('cuts lines to the terminal width', () => {
    const { writes, stream } = fakeStream(true, 60);
    const progress = createProgressReporter(stream);
    progress.start('y'.repeat(200));
    progress.finish('');
    expect(writes[0]!.replace('\r\x1b[2K', '').length).toBe(59);
  });
});

describe('formatElapsed', () => {
  it.each([
    [0, '0:00:00'],
    [61_000, '0:01:01'],
    [3_725_000, '1:02:05'],
    [30 * 3_600_000, '30:00:00'],
  ])('%d ms', (ms, text) => {
    expect(formatElapsed(ms)).toBe(text);
  });
});
