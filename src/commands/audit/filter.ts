/** Filters of `audit` queries; every one that is set must match. */
export interface RecordFilter {
  client?: string;
  repository?: string;
  decision?: 'allow' | 'refuse';
  event?: string;
  /** Earliest record time, inclusive, in milliseconds since the epoch. */
  since?: number;
  /** Latest record time, inclusive, in milliseconds since the epoch. */
  until?: number;
  /** Substring of the record line as written (strings in it are escaped). */
  grep?: string;
}

/** A `--since` or `--until` value that is neither a duration nor a date. */
export class TimeArgumentError extends Error {
  override readonly name = 'TimeArgumentError';
}

const UNIT_MS: Record<string, number> = {
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};

/**
 * Parses `--since`/`--until`: a duration back from `now` (`90s`, `30m`, `2h`, `3d`, `1w`)
 * or an ISO 8601 date or timestamp (`2026-12-01`, `2026-12-01T10:00:00Z`).
 */
export function parseTimeArgument(option: string, value: string, now = Date.now()): number {
  const duration = /^(\d+)([smhdw])$/.exec(value);
  if (duration !== null) {
    return now - Number(duration[1]) * UNIT_MS[duration[2]!]!;
  }
  const isoLike = /^\d{4}-\d{2}-\d{2}([T ][0-9:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(value);
  const time = Date.parse(value);
  if (!isoLike || Number.isNaN(time)) {
    throw new TimeArgumentError(
      `invalid --${option} "${value}": use a duration like 30m, 2h, 3d, 1w or a date like ` +
        '2026-12-01 or 2026-12-01T10:00:00Z',
    );
  }
  return time;
}

/**
 * Returns a cheap test on the raw line, run before the line is parsed, that only rejects
 * lines the full filter would reject too. Values take part only when JSON writes them
 * unchanged.
 * NOTE: a hand-edited line that spells a value with `\u` escapes, or repeats the `time`
 * key, can be skipped here although the full filter would match it.
 */
export function linePrefilter(filter: RecordFilter): (text: string) => boolean {
  const needles = lineNeedles(filter);
  const hasTimeRange = filter.since !== undefined || filter.until !== undefined;
  return (text) => {
    if (!needles.every((needle) => text.includes(needle))) {
      return false;
    }
    return !hasTimeRange || quickTimeInRange(text, filter);
  };
}

/** Returns the texts that every line passing `linePrefilter(filter)` contains. */
export function lineNeedles(filter: RecordFilter): string[] {
  const needles: string[] = [];
  if (filter.grep !== undefined && filter.grep !== '') {
    needles.push(filter.grep);
  }
  for (const value of [filter.client, filter.repository, filter.decision, filter.event]) {
    if (value !== undefined && value !== '' && JSON.stringify(value) === `"${value}"`) {
      needles.push(`"${value}"`);
    }
  }
  return needles;
}

/** Checks the time near the start of a line as the writer lays it out; true when unsure. */
function quickTimeInRange(text: string, filter: RecordFilter): boolean {
  const at = text.indexOf('"time":"');
  if (at === -1 || at > 64) {
    return true;
  }
  const time = Date.parse(text.slice(at + 8, text.indexOf('"', at + 8)));
  if (Number.isNaN(time)) {
    return true;
  }
  return !(
    (filter.since !== undefined && time < filter.since) ||
    (filter.until !== undefined && time > filter.until)
  );
}

/** Returns whether a parsed record matches every filter that is set. */
export function matchesFilter(record: Record<string, unknown>, filter: RecordFilter): boolean {
  if (filter.client !== undefined && record.client_id !== filter.client) {
    return false;
  }
  if (filter.decision !== undefined && record.decision !== filter.decision) {
    return false;
  }
  if (filter.event !== undefined && record.event !== filter.event) {
    return false;
  }
  if (filter.repository !== undefined && !mentionsRepository(record, filter.repository)) {
    return false;
  }
  if (filter.since !== undefined || filter.until !== undefined) {
    const time = Date.parse(String(record.time));
    if (Number.isNaN(time)) {
      return false;
    }
    if (filter.since !== undefined && time < filter.since) {
      return false;
    }
    if (filter.until !== undefined && time > filter.until) {
      return false;
    }
  }
  return true;
}

/**
 * Matches `repository`, or one of the `restrictions` a session was limited to. borg 1 records
 * them as `--restrict-to-path PATH` or `--restrict-to-repository PATH`, borg 2 as the path alone.
 */
function mentionsRepository(record: Record<string, unknown>, repository: string): boolean {
  if (record.repository === repository) {
    return true;
  }
  if (!Array.isArray(record.restrictions)) {
    return false;
  }
  return record.restrictions.some(
    (entry) =>
      entry === repository ||
      entry === `--restrict-to-path ${repository}` ||
      entry === `--restrict-to-repository ${repository}`,
  );
}
