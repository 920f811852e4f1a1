import { ACCEPTED_KEY_TYPES } from '../authorized-keys/public-key.js';

/** One key line of an authorized_keys file, split the way sshd reads it. */
export interface AuthorizedKeyLine {
  line: number;
  /** Option names in lowercase, with the value of those that carry one. */
  options: Map<string, string | true>;
  keyType: string;
  base64: string;
}

const KEY_TYPE_WORD = /^(ssh-|ecdsa-|sk-)[A-Za-z0-9@.-]+$/;

/** Parses every non-empty, non-comment line; lines that hold no key are returned as numbers. */
export function parseAuthorizedKeys(text: string): {
  keys: AuthorizedKeyLine[];
  invalid: number[];
} {
  const keys: AuthorizedKeyLine[] = [];
  const invalid: number[] = [];
  for (const [index, raw] of text.split('\n').entries()) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) {
      continue;
    }
    const parsed = parseKeyLine(line, index + 1);
    if (parsed === undefined) {
      invalid.push(index + 1);
    } else {
      keys.push(parsed);
    }
  }
  return { keys, invalid };
}

function parseKeyLine(line: string, number: number): AuthorizedKeyLine | undefined {
  let options = new Map<string, string | true>();
  let rest = line;
  const firstWord = line.split(/[ \t]/, 1)[0]!;
  if (!isKeyType(firstWord)) {
    const split = splitOptions(line);
    if (split === undefined) {
      return undefined;
    }
    options = split.options;
    rest = split.rest;
  }
  const [keyType = '', base64 = ''] = rest.split(/[ \t]+/);
  if (!isKeyType(keyType) || base64 === '') {
    return undefined;
  }
  return { line: number, options, keyType, base64 };
}

function isKeyType(word: string): boolean {
  return (ACCEPTED_KEY_TYPES as readonly string[]).includes(word) || KEY_TYPE_WORD.test(word);
}

/** Splits the options field as sshd does: commas separate options, double quotes protect commas and spaces. */
function splitOptions(
  line: string,
): { options: Map<string, string | true>; rest: string } | undefined {
  const options = new Map<string, string | true>();
  let index = 0;
  while (index < line.length) {
    const name = /^[A-Za-z0-9-]+/.exec(line.slice(index));
    if (name === null) {
      return undefined;
    }
    index += name[0].length;
    let value: string | true = true;
    if (line.slice(index, index + 2) === '="') {
      const end = closingQuote(line, index + 2);
      if (end === -1) {
        return undefined;
      }
      value = line.slice(index + 2, end).replaceAll('\\"', '"');
      index = end + 1;
    }
    options.set(name[0].toLowerCase(), value);
    if (line[index] === ',') {
      index++;
      continue;
    }
    if (line[index] === ' ' || line[index] === '\t') {
      return { options, rest: line.slice(index).trimStart() };
    }
    return undefined;
  }
  return undefined;
}

function closingQuote(line: string, start: number): number {
  for (let index = start; index < line.length; index++) {
    if (line[index] === '\\' && line[index + 1] === '"') {
      index++;
    } else if (line[index] === '"') {
      return index;
    }
  }
  return -1;
}

/** Reads the client id from a forced command `.../borg-gate serve --client ID ...`, or undefined. */
export function gateClientOf(command: string): string | undefined {
  const words = command.trim().split(/\s+/);
  // A forced command may start the bundle through node: `/usr/bin/node /opt/borg-gate.js serve ...`.
  if (/(^|\/)node$/.test(words[0] ?? '')) {
    words.shift();
  }
  const program = words[0] ?? '';
  if (!/(^|\/)borg-gate(\.m?js)?$/.test(program) || words[1] !== 'serve') {
    return undefined;
  }
  const flag = words.indexOf('--client');
  if (flag !== -1 && words[flag + 1] !== undefined) {
    return words[flag + 1];
  }
  const joined = words.find((word) => word.startsWith('--client='));
  return joined?.slice('--client='.length);
}
