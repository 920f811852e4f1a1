import { FIELD_ORDER } from './fields.js';
import { parseLine } from './reader.js';

// The JSON syntax that JSON.parse accepts, without whitespace, as regular expression source.
// A nested array or object may only contain strings, numbers and literals, as records do.
const CHAR = String.raw`[^"\\\x00-\x1f]`;
const ESCAPE = String.raw`\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4})`;
const STRING = `"${CHAR}*(?:${ESCAPE}${CHAR}*)*"`;
const NUMBER = String.raw`-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?`;
const SCALAR = `(?:${STRING}|${NUMBER}|true|false|null)`;
const FLAT_ARRAY = String.raw`\[(?:${SCALAR}(?:,${SCALAR})*)?\]`;
const FLAT_OBJECT = String.raw`\{(?:${STRING}:${SCALAR}(?:,${STRING}:${SCALAR})*)?\}`;
const VALUE = `(?:${SCALAR}|${FLAT_ARRAY}|${FLAT_OBJECT})`;

/**
 * Parses one log line into the values of the chosen fields of its record, in the order of
 * the fields, undefined for a field the record lacks. Returns undefined when `parseLine`
 * does. The array is reused: the next call overwrites it.
 */
export type RecordProjector = (line: string) => unknown[] | undefined;

/**
 * Returns a parser for chosen fields of record lines, for readers that look at a few
 * fields of every record. A field is a top-level key (`time`), or a key and a member
 * of the object under it (`rpc.commit`). A line laid out as the writer writes it (keys
 * in `FIELD_ORDER`, `schema_version` first, no whitespace) is matched by one regular
 * expression that also checks its JSON syntax, and only the chosen values are decoded.
 * Any other line goes through `parseLine`. Both ways give the values `JSON.parse` gives.
 */
export function createRecordProjector(fields: readonly string[]): RecordProjector {
  const paths = fields.map((field) => field.split('.', 2) as [string, string?]);
  const pattern = writerLayoutPattern(paths.map(([key]) => key));
  // Capture group of each field's key, or 0 for a key the pattern does not capture.
  const captured = FIELD_ORDER.filter((key) => paths.some(([first]) => first === key));
  const groups = paths.map(([key]) => captured.indexOf(key as never) + 1);
  const members = paths.map(([, member]) => member);
  const values: unknown[] = fields.map(() => undefined);

  return (line) => {
    const match = pattern.exec(line);
    if (match === null) {
      return pickFields(parseLine(line), paths, values);
    }
    for (let index = 0; index < groups.length; index++) {
      const group = groups[index]!;
      const text = group === 0 ? undefined : match[group];
      const member = members[index];
      let value: unknown;
      if (text !== undefined) {
        value = member === undefined ? decodeValue(text) : decodeMember(text, member);
      }
      values[index] = value;
    }
    return values;
  };
}

/**
 * Returns a pattern that matches a record line in the writer's layout and checks its JSON
 * syntax. It captures the value text of each key in `keys`, in FIELD_ORDER.
 */
export function writerLayoutPattern(keys: readonly string[]): RegExp {
  let source = '^\\{';
  for (const [position, key] of FIELD_ORDER.entries()) {
    const value = keys.includes(key) ? `(${VALUE})` : VALUE;
    // Only the first key is required, so every comma belongs to a member that follows.
    source += position === 0 ? `"${key}":${value}` : `(?:,"${key}":${value})?`;
  }
  return new RegExp(`${source}\\}$`);
}

const SCALAR_AT = new RegExp(SCALAR, 'y');

/**
 * Decodes member `name` of a value the pattern matched; undefined unless the value is an
 * object with that member. `"name":` after `{` or `,` can only be a key there, because a
 * quote inside a string follows a backslash. The last duplicate wins, as in JSON.parse.
 */
function decodeMember(text: string, name: string): unknown {
  if (text.charCodeAt(0) !== 0x7b) {
    return undefined;
  }
  if (text.includes('\\')) {
    // A key may spell the name with escapes.
    return memberOf(JSON.parse(text), name);
  }
  const key = `"${name}":`;
  for (let at = text.lastIndexOf(key); at > 0; at = text.lastIndexOf(key, at - 1)) {
    const before = text.charCodeAt(at - 1);
    if (before === 0x7b || before === 0x2c) {
      return decodeScalarAt(text, at + key.length);
    }
  }
  return undefined;
}

/** Decodes the scalar that starts at `start` of a flat object the pattern matched. */
function decodeScalarAt(text: string, start: number): unknown {
  // The pattern checked the syntax, so `true` or `false` here is the whole literal.
  if (text.startsWith('true', start)) {
    return true;
  }
  if (text.startsWith('false', start)) {
    return false;
  }
  SCALAR_AT.lastIndex = start;
  return decodeValue(SCALAR_AT.exec(text)![0]);
}

/** Decodes the text of one JSON value that the pattern matched. */
function decodeValue(text: string): unknown {
  const first = text.charCodeAt(0);
  if (first === 0x22) {
    // A string without escapes is its own content.
    return text.indexOf('\\') === -1 ? text.slice(1, -1) : JSON.parse(text);
  }
  if (first === 0x74) {
    return true;
  }
  if (first === 0x66) {
    return false;
  }
  if (first === 0x6e) {
    return null;
  }
  if (first === 0x2d || (first >= 0x30 && first <= 0x39)) {
    // Number() rounds a JSON number's text to the same double as JSON.parse.
    return Number(text);
  }
  return JSON.parse(text);
}

function pickFields(
  record: Record<string, unknown> | undefined,
  paths: ReadonlyArray<[string, string?]>,
  values: unknown[],
): unknown[] | undefined {
  if (record === undefined) {
    return undefined;
  }
  for (let index = 0; index < paths.length; index++) {
    const [key, member] = paths[index]!;
    const value = memberOf(record, key);
    values[index] = member === undefined ? value : memberOf(value, member);
  }
  return values;
}

/** Returns the own member `name` of a JSON object; undefined for other values. */
function memberOf(value: unknown, name: string): unknown {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return undefined;
  }
  return Object.hasOwn(value, name) ? (value as Record<string, unknown>)[name] : undefined;
}
