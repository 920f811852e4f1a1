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
  const lines = [...blockStart(name, policyFile), ...entries, blockEnd(name)];
  return `${lines.join('\n')}\n`;
}

/** Returns the lines before a block's entries: the BEGIN marker and a warning about edits. */
export function blockStart(name: string, policyFile: string): string[] {
  checkBlockName(name);
  return [
    `# BEGIN borg-gate managed block ${name}`,
    `# Written by "borg-gate keys write" from ${policyFile}; edits inside this block are overwritten.`,
  ];
}

/** Returns the END marker line of a block. */
export function blockEnd(name: string): string {
  return `# END borg-gate managed block ${name}`;
}

interface BlockLocation {
  /** Offset of the BEGIN marker line. */
  start: number;
  /** Offset just past the END marker line and its line end. */
  end: number;
}

/** Finds the block called `name`; throws AuthorizedKeysError for broken or repeated markers. */
export function findBlock(
  text: string | Buffer,
  name: string,
  file: string,
): BlockLocation | undefined {
  checkBlockName(name);
  let found: BlockLocation | undefined;
  let open: { name: string; start: number; line: number } | undefined;
  let offset = 0;
  let lineNumber = 0;
  while (offset < text.length) {
    const newline =
      typeof text === 'string' ? text.indexOf('\n', offset) : text.indexOf(0x0a, offset);
    const lineEnd = newline === -1 ? text.length : newline;
    const next = newline === -1 ? text.length : newline + 1;
    lineNumber += 1;
    // Only a line starting with "#" can be a marker; skipping the others saves slicing 100,000 entries.
    const marker = startsWithHash(text, offset) ? MARKER.exec(lineAt(text, offset, lineEnd)) : null;
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
            // Named by its BEGIN line, where the second block starts.
            throw brokenMarkers(`${file}:${open.line}`, `second managed block named "${name}"`);
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

function startsWithHash(text: string | Buffer, offset: number): boolean {
  return (typeof text === 'string' ? text.charCodeAt(offset) : text[offset]) === 0x23;
}

/** Returns a line of `text`, as latin1 when `text` is bytes. */
function lineAt(text: string | Buffer, start: number, end: number): string {
  return typeof text === 'string' ? text.slice(start, end) : text.toString('latin1', start, end);
}

/** An authorized_keys file cut around one block, as views of its bytes. */
export interface BlockSplit {
  /** The bytes before the block: the file's start, or the whole file and a newline if it lacks one. */
  before: Buffer[];
  /** The block's current bytes, empty when the file has no such block. */
  old: Buffer;
  /** The bytes after the block. */
  after: Buffer;
}

/**
 * Cuts `content` around the block called `name`. Writing `before`, a new block and `after`
 * replaces the block and keeps every other byte; a file without the block gets it appended.
 */
export function splitAtBlock(content: Buffer, name: string, file: string): BlockSplit {
  const location = findBlock(content, name, file);
  if (location === undefined) {
    const last = content.at(-1);
    const separator = last === undefined || last === 0x0a ? [] : [Buffer.from('\n')];
    return { before: [content, ...separator], old: Buffer.alloc(0), after: Buffer.alloc(0) };
  }
  return {
    before: [content.subarray(0, location.start)],
    old: content.subarray(location.start, location.end),
    after: content.subarray(location.end),
  };
}

/** A line of an authorized_keys file that no managed block contains. */
export interface OutsideLine {
  /** Line number, counted from 1. */
  line: number;
  text: string;
  /** The block the line is in, for a line in another block that lacks the gate's command. */
  block?: string;
}

/** This policy's block, and the shape of every entry that borg-gate writes. */
export interface GateBlock {
  block: string;
  /** Matches the lines `keys write` writes for this gate path (gateEntryPattern). */
  entry: RegExp;
}

/**
 * Lists the non-empty, non-comment lines outside every managed block, whatever its name.
 * `keys write` never changes such a line, so the policy does not control a key on it. Markers are
 * read leniently: a BEGIN without its END leaves the lines after it outside. With `gate`, it
 * also lists the lines in other blocks that are not entries as `keys write` writes them, since
 * anyone who can edit the file can wrap a key in marker lines.
 */
export function findLinesOutsideBlocks(
  text: string | Buffer,
  gate?: GateBlock,
  firstLine = 1,
): OutsideLine[] {
  const outside: OutsideLine[] = [];
  // Key lines inside the open block, which count as outside if the block never closes. Kept
  // as offsets, because an open block may contain 100,000 entries.
  let pending: { line: number; start: number; end: number }[] = [];
  let openName: string | undefined;
  let lineNumber = firstLine - 1;
  for (let offset = 0; offset <= text.length; ) {
    const newline =
      typeof text === 'string' ? text.indexOf('\n', offset) : text.indexOf(0x0a, offset);
    const end = newline === -1 ? text.length : newline;
    lineNumber += 1;
    const marker = startsWithHash(text, offset) ? MARKER.exec(lineAt(text, offset, end)) : null;
    if (marker?.[1] === 'BEGIN' && openName === undefined) {
      openName = marker[2];
    } else if (marker?.[1] === 'END' && marker[2] === openName) {
      if (gate !== undefined && openName !== undefined && openName !== gate.block) {
        outside.push(...linesWithoutCommand(text, pending, openName, gate.entry));
      }
      openName = undefined;
      pending = [];
    } else if (openName !== undefined) {
      pending.push({ line: lineNumber, start: offset, end });
    } else {
      const raw = lineAt(text, offset, end);
      if (isKeyCandidate(raw)) {
        outside.push({ line: lineNumber, text: raw });
      }
    }
    if (newline === -1) {
      break;
    }
    offset = newline + 1;
  }
  // Lines after a BEGIN marker that never closes are outside any block.
  const unclosed = pending.map(({ line, start, end }) => ({
    line,
    text: lineAt(text, start, end),
  }));
  return [...outside, ...unclosed.filter((entry) => isKeyCandidate(entry.text))];
}

/** Returns the key lines of block `name` that are not entries of the shape `entry` matches. */
function linesWithoutCommand(
  text: string | Buffer,
  lines: { line: number; start: number; end: number }[],
  name: string,
  entry: RegExp,
): OutsideLine[] {
  const found: OutsideLine[] = [];
  for (const { line, start, end } of lines) {
    const raw = lineAt(text, start, end);
    if (isKeyCandidate(raw) && !entry.test(raw)) {
      found.push({ line, text: raw, block: name });
    }
  }
  return found;
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
