/**
 * Code points that are escaped: all of Unicode category C (control, format such as the
 * bidi overrides and zero-width marks, surrogates, private use, unassigned), line and
 * paragraph separators, and the space separators (Zs) other than the ASCII space.
 */
const INVISIBLE_CLASS = '\\p{C}\\p{Zl}\\p{Zp}\\u00a0\\u1680\\u2000-\\u200a\\u202f\\u205f\\u3000';

const INVISIBLE = new RegExp(`[${INVISIBLE_CLASS}]`, 'u');

/** Finds every invisible code point, for replacing them all. */
export const INVISIBLE_GLOBAL = new RegExp(`[${INVISIBLE_CLASS}]`, 'gu');

/** Matches a whole string without invisible code points; also used in the JSON Schema. */
export const PRINTABLE_PATTERN = new RegExp(`^[^${INVISIBLE_CLASS}]*$`, 'u');

const SHORT_ESCAPES: Record<string, string> = {
  '\\': '\\\\',
  '\n': '\\n',
  '\r': '\\r',
  '\t': '\\t',
};

/** Maximum length of untrusted strings unless a field sets its own. */
export const DEFAULT_MAX_LENGTH = 1024;

/**
 * Makes untrusted text safe to show in a log line or a terminal. Control characters,
 * ANSI escapes, bidi marks and other invisible code points become visible escapes
 * (`\x1b`, `\u202e`). A backslash becomes `\\`, so input can not forge an escape.
 * Output longer than `maxLength` is cut and ends with `...[+N chars]`, where N counts
 * the dropped input code points.
 */
export function escapeUntrusted(text: string, maxLength = DEFAULT_MAX_LENGTH): string {
  const codePoints = Array.from(text);
  let output = '';
  for (let index = 0; index < codePoints.length; index++) {
    const piece = escapeCodePoint(codePoints[index]!);
    if (output.length + piece.length > maxLength) {
      return `${output}...[+${codePoints.length - index} chars]`;
    }
    output += piece;
  }
  return output;
}

function escapeCodePoint(char: string): string {
  const short = SHORT_ESCAPES[char];
  if (short !== undefined) {
    return short;
  }
  if (!INVISIBLE.test(char)) {
    return char;
  }
  const code = char.codePointAt(0)!;
  if (code <= 0xff) {
    return `\\x${code.toString(16).padStart(2, '0')}`;
  }
  if (code <= 0xffff) {
    return `\\u${code.toString(16).padStart(4, '0')}`;
  }
  return `\\u{${code.toString(16)}}`;
}

/** Matches text that `escapeUntrusted` could have produced: no invisible code point left. */
export function isEscaped(text: string): boolean {
  return PRINTABLE_PATTERN.test(text);
}
