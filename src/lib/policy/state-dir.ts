/** The schema's default `state_dir`. A unit test keeps the two equal. */
export const DEFAULT_STATE_DIR = '/var/lib/borg-gate';

/** A `state_dir:` key at the start of a line. The scan starts as if after a newline. */
const KEY_LINE = Buffer.from('\nstate_dir:');

/**
 * Finds the first top-level `state_dir: /path` line of policy text passed in chunks, so a
 * caller can scan a file while it hashes it without keeping the whole text in memory.
 */
export class StateDirScanner {
  /** The last bytes passed, one fewer than KEY_LINE has, to find a key split across chunks. */
  private tail: Buffer = Buffer.from('\n');
  /** Bytes of the line after the key, once the key was found. */
  private line: Buffer[] | undefined;
  private lineEnded = false;

  push(chunk: Buffer): void {
    if (this.lineEnded) {
      return;
    }
    if (this.line !== undefined) {
      this.collect(chunk);
      return;
    }
    const valueStart = this.findKey(chunk);
    if (valueStart !== undefined) {
      this.line = [];
      this.collect(chunk.subarray(valueStart));
      return;
    }
    this.keepTail(chunk);
  }

  /**
   * Returns the directory the `state_dir` line names, or the default. Any other spelling
   * (quotes, flow style, a nested key) yields the default.
   */
  result(): string {
    if (this.line === undefined) {
      return DEFAULT_STATE_DIR;
    }
    const text = Buffer.concat(this.line).toString('utf8');
    const match = /^[ \t]*(\/[^\s#'"]*)[ \t]*(#.*)?\r?$/.exec(text);
    return match?.[1] ?? DEFAULT_STATE_DIR;
  }

  /** Returns where the value after the first key in `chunk` starts, counting the tail. */
  private findKey(chunk: Buffer): number | undefined {
    const window = Buffer.concat([this.tail, chunk.subarray(0, KEY_LINE.length - 1)]);
    const spanning = window.indexOf(KEY_LINE);
    // A key that starts in the tail comes before any key inside the chunk.
    if (spanning !== -1 && spanning < this.tail.length) {
      return spanning + KEY_LINE.length - this.tail.length;
    }
    const inside = chunk.indexOf(KEY_LINE);
    return inside === -1 ? undefined : inside + KEY_LINE.length;
  }

  /** Copies the line's bytes up to its newline, because callers may reuse the chunk's memory. */
  private collect(bytes: Buffer): void {
    const end = bytes.indexOf(0x0a);
    this.line!.push(Buffer.from(end === -1 ? bytes : bytes.subarray(0, end)));
    this.lineEnded = end !== -1;
  }

  private keepTail(chunk: Buffer): void {
    const keep = KEY_LINE.length - 1;
    const joined = chunk.length >= keep ? chunk : Buffer.concat([this.tail, chunk]);
    this.tail = Buffer.from(joined.subarray(Math.max(0, joined.length - keep)));
  }
}

/**
 * Returns the directory a plain top-level `state_dir: /path` line names, or the default. Any
 * other spelling (quotes, flow style) yields a directory where no cache is written, so the
 * policy is validated in full on every connection.
 */
export function stateDirHint(bytes: Buffer): string {
  const scanner = new StateDirScanner();
  scanner.push(bytes);
  return scanner.result();
}
