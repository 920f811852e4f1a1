/** Maximum length of a message kept in the state file, an alert or the audit log. */
const MAX_MESSAGE_LENGTH = 2000;

function isControl(code: number): boolean {
  return code < 0x20 || (code >= 0x7f && code <= 0x9f);
}

/**
 * Makes borg output safe for one terminal or log line: whitespace runs collapse to one
 * space, other control characters (ANSI escapes included) become `\xNN`, and long text is cut.
 */
export function collapseMessage(text: string): string {
  let escaped = '';
  for (const char of text.replace(/\s+/g, ' ').trim()) {
    const code = char.codePointAt(0)!;
    escaped += isControl(code) ? `\\x${code.toString(16).padStart(2, '0')}` : char;
  }
  return escaped.length > MAX_MESSAGE_LENGTH
    ? `${escaped.slice(0, MAX_MESSAGE_LENGTH)}...`
    : escaped;
}
