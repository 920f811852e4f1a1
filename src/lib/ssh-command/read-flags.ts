import { type FlagRule, findFlagRule, type ServeFlagFields } from '../borg-args/flags.js';
import { quote } from './screen.js';
import { isRejected, type RejectedCommand, reject } from './types.js';

interface FlagWord {
  name: string;
  /** Set for the `--flag=value` form. */
  inlineValue?: string;
}

/**
 * Reads the words after `serve` with the flag table. Any word that is not a listed flag
 * with a valid value rejects the command.
 */
export function readServeFlags(words: readonly string[]): ServeFlagFields | RejectedCommand {
  const fields: ServeFlagFields = { debugTopics: [], logJson: false };
  const seen = new Set<FlagRule>();
  let index = 0;
  while (index < words.length) {
    const used = readOneFlag(words[index]!, words[index + 1], fields, seen);
    if (isRejected(used)) {
      return used;
    }
    index += used;
  }
  return fields;
}

/** Applies one flag to `fields` and returns how many words it used, or the rejection. */
function readOneFlag(
  word: string,
  next: string | undefined,
  fields: ServeFlagFields,
  seen: Set<FlagRule>,
): number | RejectedCommand {
  const { name, inlineValue } = splitFlagWord(word);
  const rule = lookUpFlag(word, name);
  if (isRejected(rule)) {
    return rule;
  }
  const value = takeValue(rule, name, inlineValue, next);
  if (isRejected(value)) {
    return value;
  }
  if (rule.verdict === 'allow') {
    // borg 2 rejects a repeated --storage-quota, and no client repeats these flags.
    if (rule.once === true && seen.has(rule)) {
      return reject('bad-flag-value', `flag ${quote(name)} given more than once`);
    }
    seen.add(rule);
    rule.apply(fields, value ?? '');
  }
  return rule.value !== 'none' && inlineValue === undefined ? 2 : 1;
}

/** Finds the rule for a flag word, rejecting positionals, `--`, unknown and forbidden flags. */
function lookUpFlag(word: string, name: string): FlagRule | RejectedCommand {
  // `--` ends option parsing, so every later word would reach borg as a positional.
  if (name === '--') {
    return reject('forbidden-flag', `option terminator in ${quote(word)}`);
  }
  if (!word.startsWith('-')) {
    return reject('extra-arguments', `positional word ${quote(word)} after "serve"`);
  }
  const rule = findFlagRule(name);
  if (rule === undefined) {
    return reject('unknown-flag', `unknown flag ${quote(name)}`);
  }
  if (rule.verdict === 'forbid') {
    return reject('forbidden-flag', `flag ${quote(name)}: ${rule.reason}`);
  }
  return rule;
}

/** Splits `--name=value`. Short flags and bare words have no inline value. */
function splitFlagWord(word: string): FlagWord {
  const equals = word.indexOf('=');
  if (!word.startsWith('--') || equals < 0) {
    return { name: word };
  }
  return { name: word.slice(0, equals), inlineValue: word.slice(equals + 1) };
}

/** Returns the checked value (undefined for a switch) or the rejection. */
function takeValue(
  rule: FlagRule,
  name: string,
  inlineValue: string | undefined,
  next: string | undefined,
): string | undefined | RejectedCommand {
  if (rule.value === 'none') {
    // argparse rejects `--info=x` too ("ignored explicit argument").
    if (inlineValue !== undefined) {
      return reject('bad-flag-value', `switch ${quote(name)} takes no value`);
    }
    return undefined;
  }
  const value = inlineValue ?? next;
  if (value === undefined) {
    return reject('bad-flag-value', `flag ${quote(name)} needs a value`);
  }
  if (!rule.value(value)) {
    return reject('bad-flag-value', `invalid value ${quote(value)} for ${quote(name)}`);
  }
  return value;
}
