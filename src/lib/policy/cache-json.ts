// JSON for the policy cache. JSON has no date type, so a Date is written as an object with the
// single key DATE_TAG, and reviveDates turns such an object back into a Date. encodeJson writes
// only values that JSON.parse with reviveDates returns deep strictly equal, which is what lets
// `serve` use a cached client in place of the validated one.

/** Key of the object that replaces a Date in the cache. */
const DATE_TAG = '$borg_gate_date';

/** Marker returned for a value that JSON cannot carry exactly. */
const UNFAITHFUL = Symbol('unfaithful');

/**
 * Returns the JSON text of `value` with each Date tagged. Returns undefined when JSON.parse with
 * reviveDates would not give back a deep strictly equal value. Such values are undefined, -0,
 * NaN, a bigint, a Map or other class instance, a sparse array, symbol keys, or a tag key.
 */
export function encodeJson(value: unknown): string | undefined {
  const plain = toJsonValue(value);
  return plain === UNFAITHFUL ? undefined : JSON.stringify(plain);
}

/**
 * Returns `value` itself when it contains no Date, a copy with each Date replaced by its tag
 * object otherwise, or UNFAITHFUL. Native JSON.stringify then writes the text in one call.
 */
function toJsonValue(value: unknown): unknown {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value;
    case 'number':
      return Number.isFinite(value) && !Object.is(value, -0) ? value : UNFAITHFUL;
    case 'object':
      return value === null ? null : objectToJsonValue(value);
    default:
      return UNFAITHFUL;
  }
}

function objectToJsonValue(value: object): unknown {
  // JSON drops symbol keys, so an object that has one would come back without it.
  if (Object.getOwnPropertySymbols(value).length > 0) {
    return UNFAITHFUL;
  }
  const prototype: unknown = Object.getPrototypeOf(value);
  if (prototype === Array.prototype) {
    return arrayToJsonValue(value as unknown[]);
  }
  if (prototype === Date.prototype) {
    return dateTag(value as Date);
  }
  if (prototype === Object.prototype) {
    return recordToJsonValue(value as Record<string, unknown>);
  }
  return UNFAITHFUL;
}

function arrayToJsonValue(values: unknown[]): unknown {
  // JSON turns a hole into null and drops keys other than the indexes.
  if (!isPlainArray(values)) {
    return UNFAITHFUL;
  }
  let copy: unknown[] | undefined;
  for (let position = 0; position < values.length; position += 1) {
    const raw = values[position];
    const item = toJsonValue(raw);
    if (item === UNFAITHFUL) {
      return UNFAITHFUL;
    }
    if (copy === undefined && item !== raw) {
      copy = values.slice(0, position);
    }
    copy?.push(item);
  }
  return copy ?? values;
}

function recordToJsonValue(record: Record<string, unknown>): unknown {
  const keys = Object.keys(record);
  let copy: Record<string, unknown> | undefined;
  for (let position = 0; position < keys.length; position += 1) {
    const key = keys[position]!;
    // A tag key could revive as a Date, and JSON.parse makes `__proto__` an own key.
    if (key === DATE_TAG || key === '__proto__') {
      return UNFAITHFUL;
    }
    const raw = record[key];
    const item = toJsonValue(raw);
    if (item === UNFAITHFUL) {
      return UNFAITHFUL;
    }
    if (copy === undefined && item !== raw) {
      copy = copyKeys(record, keys, position);
    }
    if (copy !== undefined) {
      copy[key] = item;
    }
  }
  return copy ?? record;
}

/** Returns a new object with the first `count` of `keys` of `record`. */
function copyKeys(record: Record<string, unknown>, keys: string[], count: number) {
  const copy: Record<string, unknown> = {};
  for (let position = 0; position < count; position += 1) {
    copy[keys[position]!] = record[keys[position]!];
  }
  return copy;
}

/** Returns true for an array with no holes and no keys besides its indexes. */
export function isPlainArray(value: object): value is unknown[] {
  return (
    Object.getPrototypeOf(value) === Array.prototype &&
    Object.keys(value).length === (value as unknown[]).length
  );
}

function dateTag(date: Date): unknown {
  if (Number.isNaN(date.getTime()) || Object.keys(date).length > 0) {
    return UNFAITHFUL;
  }
  return { [DATE_TAG]: date.toISOString() };
}

/**
 * Parses JSON text that encodeJson wrote. A reviver slows JSON.parse down several times, so it
 * runs only on text that contains the date tag. JSON.stringify writes every key of printable
 * ASCII literally, so text without the tag has no tagged date.
 */
export function parseCacheJson(text: string): unknown {
  return text.includes(DATE_TAG) ? JSON.parse(text, reviveDates) : JSON.parse(text);
}

/** Turns a tag object back into a Date. A reviver for JSON.parse. */
export function reviveDates(_key: string, value: unknown): unknown {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    const entries = Object.keys(value);
    const tagged = (value as Record<string, unknown>)[DATE_TAG];
    if (entries.length === 1 && typeof tagged === 'string') {
      return new Date(tagged);
    }
  }
  return value;
}
