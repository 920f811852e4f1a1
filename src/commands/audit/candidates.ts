import { lineNeedles, linePrefilter, type RecordFilter } from './filter.js';

/**
 * Finds the lines of a chunk of log text that pass `linePrefilter`, without cutting out
 * the others. With a text to look for, it searches the whole chunk for it and only
 * steps over the lines in between, which is much cheaper than testing every line.
 */
export class CandidateLines {
  /** The longest text every candidate contains, or undefined to test every line. */
  private readonly needle: string | undefined;
  /** Undefined when the filter has neither needles nor a time range. */
  private readonly prefilter: ((text: string) => boolean) | undefined;

  constructor(filter: RecordFilter) {
    const needles = lineNeedles(filter);
    this.needle = needles.sort((a, b) => b.length - a.length)[0];
    const timed = filter.since !== undefined || filter.until !== undefined;
    this.prefilter = needles.length > 0 || timed ? linePrefilter(filter) : undefined;
  }

  /**
   * Calls `visit` with each line of `text` (lines are separated by `\n`) that passes the
   * prefilter, and the line's index in `text` from 0. Returns the number of lines in `text`.
   */
  scan(text: string, visit: (line: string, index: number) => void): number {
    const needle = this.needle;
    let index = 0;
    let start = 0;
    // Start of the next occurrence of the needle; -1 until searched.
    let next = -1;
    for (;;) {
      if (needle !== undefined && next < start) {
        next = text.indexOf(needle, start);
        if (next === -1) {
          return index + countLines(text, start);
        }
      }
      const newline = text.indexOf('\n', start);
      const end = newline === -1 ? text.length : newline;
      if (needle === undefined || next < end) {
        const line = text.slice(start, end);
        if (this.prefilter === undefined || this.prefilter(line)) {
          visit(line, index);
        }
      }
      index++;
      if (newline === -1) {
        return index;
      }
      start = newline + 1;
    }
  }
}

/** Counts the lines of `text` from `start`, which is at the start of a line. */
function countLines(text: string, start: number): number {
  let count = 1;
  for (let at = text.indexOf('\n', start); at !== -1; at = text.indexOf('\n', at + 1)) {
    count++;
  }
  return count;
}
