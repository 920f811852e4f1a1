/** Checks for the words in front of the `borg serve` flags. */

/**
 * A leading `NAME=value` word. borg 1.1 clients prepend `BORG_HOSTNAME_IS_UNIQUE=no`
 * when the client host name is not unique, and borg drops such words unread. The parser
 * drops them too, so they never reach borg's environment.
 */
const ENV_ASSIGNMENT = /^[A-Za-z_][A-Za-z0-9_]*=[A-Za-z0-9._,:/+-]*$/;

/** One file name of a program path. */
const PROGRAM_SEGMENT = /^[A-Za-z0-9._+][A-Za-z0-9._+-]*$/;

const MAX_PROGRAM_LENGTH = 255;

export function isEnvAssignment(word: string): boolean {
  return ENV_ASSIGNMENT.test(word);
}

/**
 * Returns true for a plain program name (`borg`, `borg-1.2`) or an absolute path to one
 * (`/usr/local/bin/borg`). Relative paths and `.` or `..` segments fail, so the program
 * word cannot name a file outside the path it appears to name.
 */
export function isProgramWord(word: string): boolean {
  if (word.length > MAX_PROGRAM_LENGTH) {
    return false;
  }
  const segments = word.startsWith('/') ? word.slice(1).split('/') : [word];
  return segments.every(
    (segment) => PROGRAM_SEGMENT.test(segment) && segment !== '.' && segment !== '..',
  );
}

/** Returns the index of the first word that is not an environment assignment. */
export function skipEnvAssignments(words: readonly string[]): number {
  let index = 0;
  while (index < words.length && isEnvAssignment(words[index]!)) {
    index++;
  }
  return index;
}
