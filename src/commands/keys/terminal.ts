/** Replaces control characters with `\u{...}` escapes so policy text cannot drive the terminal. */
export function escapeForTerminal(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: this replaces control characters.
  return text.replace(/[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g, (character) => {
    return `\\u{${character.codePointAt(0)!.toString(16)}}`;
  });
}
