import { escapeUntrusted } from '../audit-log/escape.js';
import { AuthorizedKeysError } from './errors.js';

/**
 * The managed block in an authorized_keys file: the lines between a BEGIN and an END marker.
 * Text is handled as latin1 strings so every byte outside the block is written back unchanged,
 * including invalid UTF-8, CRLF line ends and a missing final newline.
 */

const MARKER = /^# (BEGIN|END) borg-gate managed block ([A-Za-z0-9._-]+)\r?$/;
export const DEFAULT_BLOCK_NAME = 'default';

/** Block names follow the client id rule, so a name cannot carry a line end or a key. */
const BLOCK_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** Throws AuthorizedKeysError unless `name` is a valid block name. */
export function checkBlockName(name: string): void {
  // A newline in the name would write the rest of it as a raw authorized_keys line.
  if (!BLOCK_NAME.test(name)) {
    throw new AuthorizedKeysError(
      `--block "${escapeUntrusted(name, 200)}" is invalid; a block name is 1-64 characters of A-Z, a-z, 0-9, ".", "_" or "-", starting with a letter or digit`,
    );
  }
}

/** Formats a whole block, markers included, from the entry lines (UTF-8 text). */
export function formatBlock(name: string, policyFile: string, entries: string[]): string {
  checkBlockName(name);
  const lines = [
    `# BEGIN borg-gate managed block ${name}`,
    `# Written by "borg-gate keys write" from ${policyFile}; edits inside this block are overwritten.`,
    ...entries,
    `# END borg-gate managed block ${name}`,
  ];
  return `${lines.join('\n')}\n`;
}

interface BlockLocation {
  /** Offset of the BEGIN marker line. */
  start: number;
  /** Offset just past the END marker line and its line end. */
  end: number;
}

/** Finds the block called `name`; throws AuthorizedKeysError for broken or repeated markers. */
export function findBlock(text: string, name: string, file: string): BlockLocation | undefined {
  checkBlockName(name);
  let found: BlockLocation | undefined;
  let open: { name: string; start: number; line: number } | undefined;
  let offset = 0;
  let lineNumber = 0;
  while (offset < text.length) {
    const newline = text.indexOf('\n', offset);
    const next = newline === -1 ? text.length : newline + 1;
    lineNumber += 1;
    // Only a line starting with "#" can be a marker; skipping the others saves slicing 100,000 entries.
    const marker =
      text.charCodeAt(offset) === 0x23
        ? MARKER.exec(text.slice(offset, newline === -1 ? text.length : newline))
        : null;
    if (marker !== null) {
      const [, kind, markerName] = marker as unknown as [string, string, string];
      const where = `${file}:${lineNumber}`;
      if (kind === 'BEGIN') {
        if (open !== undefined) {
          throw brokenMarkers(
            where,
            `BEGIN marker inside block "${open.name}" (line ${open.line})`,
          );
        }
        open = { name: markerName, start: offset, line: lineNumber };
      } else {
        if (open === undefined || open.name !== markerName) {
          throw brokenMarkers(where, `END marker for "${markerName}" without its BEGIN marker`);
        }
        if (markerName === name) {
          if (found !== undefined) {
            throw brokenMarkers(where, `second managed block named "${name}"`);
          }
          found = { start: open.start, end: next };
        }
        open = undefined;
      }
    }
    offset = next;
  }
  if (open !== undefined) {
    throw brokenMarkers(`${file}:${open.line}`, `block "${open.name}" has no END marker`);
  }
  return found;
}

/** Returns `text` with the block called `name` replaced, or appended when there is none. */
export function replaceBlock(text: string, name: string, block: string, file: string): string {
  const latin1Block = Buffer.from(block, 'utf8').toString('latin1');
  const location = findBlock(text, name, file);
  if (location !== undefined) {
    return text.slice(0, location.start) + latin1Block + text.slice(location.end);
  }
  const separator = text === '' || text.endsWith('\n') ? '' : '\n';
  return text + separator + latin1Block;
}

/** Returns the text of the block called `name` (UTF-8), or undefined when there is none. */
export function extractBlock(text: string, name: string, file: string): string | undefined {
  const location = findBlock(text, name, file);
  if (location === undefined) {
    return undefined;
  }
  return Buffer.from(text.slice(location.start, location.end), 'latin1').toString('utf8');
}

/** A line of an authorized_keys file that no managed block contains. */
export interface OutsideLine {
  /** Line number, counted from 1. */
  line: number;
  text: string;
}

/**
 * Lists the non-empty, non-comment lines outside every managed block, whatever its name.
 * `keys write` never changes such a line, so the policy does not control a key on it. Markers are
 * read leniently: a BEGIN without its END leaves the lines after it outside.
 */
export function findLinesOutsideBlocks(text: string): OutsideLine[] {
  const lines = text.split('\n');
  const outside: OutsideLine[] = [];
  let pending: OutsideLine[] = [];
  let openName: string | undefined;
  for (const [index, raw] of lines.entries()) {
    const marker = MARKER.exec(raw);
    if (marker?.[1] === 'BEGIN' && openName === undefined) {
      openName = marker[2];
    } else if (marker?.[1] === 'END' && marker[2] === openName) {
      openName = undefined;
      pending = [];
    } else if (openName !== undefined) {
      pending.push({ line: index + 1, text: raw });
    } else if (isKeyCandidate(raw)) {
      outside.push({ line: index + 1, text: raw });
    }
  }
  // Lines after a BEGIN marker that never closes are outside any block.
  return [...outside, ...pending.filter((entry) => isKeyCandidate(entry.text))];
}

function isKeyCandidate(line: string): boolean {
  const trimmed = line.trim();
  return trimmed !== '' && !trimmed.startsWith('#');
}

function brokenMarkers(where: string, problem: string): AuthorizedKeysError {
  return new AuthorizedKeysError(
    `${where}: ${problem}; fix the borg-gate marker lines by hand, then run "borg-gate keys write" again`,
  );
}
