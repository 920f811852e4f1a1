import { escapeUntrusted } from '../audit-log/escape.js';
import { type RejectedCommand, reject } from './types.js';

/** Maximum SSH_ORIGINAL_COMMAND in bytes. Estimate: borg clients send a few hundred at most. */
export const MAX_COMMAND_BYTES = 4096;

/** Characters shown of client text in a rejection detail. */
export const DETAIL_MAX_LENGTH = 160;

/**
 * Checks the raw command string before any splitting. Tabs count as control characters
 * because ssh joins the client's words with single spaces, so no borg client sends one.
 */
export function screenRawCommand(raw: string | undefined): RejectedCommand | undefined {
  if (raw === undefined || raw === '') {
    return reject('empty', 'no command: interactive login');
  }
  // A huge command could make splitting and logging expensive.
  if (raw.length > MAX_COMMAND_BYTES || Buffer.byteLength(raw, 'utf8') > MAX_COMMAND_BYTES) {
    return reject('too-long', `command has ${Buffer.byteLength(raw, 'utf8')} bytes`);
  }
  // NUL, newline, CR, tab and ANSI escapes could split or forge log lines or shell words.
  // Non-ASCII admits look-alikes (Cyrillic "е" in "serve") and bidi marks that hide text.
  const unprintable = findUnprintable(raw);
  if (unprintable >= 0) {
    const code = raw.charCodeAt(unprintable);
    const kind = code < 0x80 ? 'control' : 'non-ASCII';
    return reject('bad-characters', `${kind} character at ${unprintable}: ${quote(raw)}`);
  }
  if (raw.trim() === '') {
    return reject('empty', 'command is only spaces: interactive login');
  }
  return screenShellQuoting(raw);
}

/** Returns the index of the first character outside printable ASCII, or -1. */
function findUnprintable(text: string): number {
  for (let index = 0; index < text.length; index++) {
    const code = text.charCodeAt(index);
    if (code < 0x20 || code > 0x7e) {
      return index;
    }
  }
  return -1;
}

/** Expansion and quoting characters, rejected before shell-quote could interpret them. */
function screenShellQuoting(raw: string): RejectedCommand | undefined {
  // `$`, backticks, quotes and backslashes expand or re-quote words. borg's own words need none.
  const quoting = /[$`'"\\]/.exec(raw);
  if (quoting) {
    return reject('shell-syntax', `"${quoting[0]}" at ${quoting.index}: ${quote(raw)}`);
  }
  return undefined;
}

/** Escapes and shortens client text for a rejection detail. */
export function quote(text: string): string {
  return `"${escapeUntrusted(text, DETAIL_MAX_LENGTH)}"`;
}
