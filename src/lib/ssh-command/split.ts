import { parse } from 'shell-quote';
import { quote } from './screen.js';
import { type RejectedCommand, reject } from './types.js';

/**
 * Glob, brace, tilde and history characters that shell-quote keeps inside plain words
 * but a shell would expand. No borg client sends them.
 */
const SHELL_WORD_CHARACTERS = /[[\]{}~!^]/;

/**
 * Splits a screened command into words with POSIX rules and without a shell. Any
 * operator, redirection, glob or comment rejects the command.
 */
export function splitWords(command: string): string[] | RejectedCommand {
  const words: string[] = [];
  for (const token of parse(command)) {
    // `;`, `|`, `&&`, `>`, `*` and `#` make it a shell program, not one command.
    if (typeof token !== 'string') {
      return reject('shell-syntax', `shell operator, glob or comment in ${quote(command)}`);
    }
    if (SHELL_WORD_CHARACTERS.test(token)) {
      return reject('shell-syntax', `shell expansion character in word ${quote(token)}`);
    }
    words.push(token);
  }
  return words;
}
