import { readServeFlags } from './read-flags.js';
import { quote, screenRawCommand } from './screen.js';
import { splitWords } from './split.js';
import { isRejected, type ParsedCommand, reject } from './types.js';
import { isProgramWord, skipEnvAssignments } from './words.js';

/**
 * Parses SSH_ORIGINAL_COMMAND into a `borg serve` request or a rejection. Default deny:
 * a command passes only if every word passes its check, which admits the forms borg 1.0
 * to 1.4 and borg 2 clients send and a few harmless borg options. Never throws.
 */
export function parseSshCommand(raw: string | undefined): ParsedCommand {
  try {
    return parseScreened(raw);
  } catch (error) {
    // Fail closed: a bug in a check must reject the command, never let it through.
    const message = error instanceof Error ? error.message : String(error);
    return reject('internal-error', `parser failed: ${quote(message)}`);
  }
}

function parseScreened(raw: string | undefined): ParsedCommand {
  const screened = screenRawCommand(raw);
  if (screened !== undefined) {
    return screened;
  }
  const words = splitWords(raw!);
  if (isRejected(words)) {
    return words;
  }
  return parseWords(words);
}

function parseWords(words: readonly string[]): ParsedCommand {
  const programIndex = skipEnvAssignments(words);
  const program = words[programIndex];
  // Only a plain name or a clean absolute path; `../../bin/sh` and relative paths fail.
  if (program === undefined || !isProgramWord(program)) {
    return reject('not-borg-serve', `program word ${quote(program ?? '')} is not a program name`);
  }
  // scp, rsync --server, sftp-server, git-upload-pack and `sh -c` all end here.
  if (words[programIndex + 1] !== 'serve') {
    return reject('not-borg-serve', `command is not "<program> serve": ${quote(words.join(' '))}`);
  }
  const fields = readServeFlags(words.slice(programIndex + 2));
  if (isRejected(fields)) {
    return fields;
  }
  return { kind: 'borg-serve', program, ...fields };
}
