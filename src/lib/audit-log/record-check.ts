// The audit writer's record check, written by hand so that `serve` does not load zod on every
// connection. It accepts the same records as `auditRecordSchema` in record.ts. Property tests
// in test/lib/audit-log/record-check.test.ts compare the two on the records the writer builds,
// with any one field changed.
import { isEscaped } from './escape.js';
import {
  AUDIT_EVENTS,
  DECISIONS,
  FIELD_ORDER,
  RPC_FIELD_ORDER,
  SCHEMA_VERSION,
  SHA256_HEX_PATTERN,
} from './fields.js';

/** The first problem found in a record: the dotted path of the field and what is wrong. */
export interface RecordIssue {
  path: string;
  message: string;
}

interface Issue {
  path: string[];
  message: string;
}

/** Checks one field's value and returns the problem, or undefined when the value passes. */
type Check = (value: unknown) => Issue | undefined;

/** Checks `value` against the audit record schema and returns its first problem, if any. */
export function checkAuditRecord(value: unknown): RecordIssue | undefined {
  const issue = checkObject(value, FIELD_ORDER, FIELD_CHECKS);
  return issue && { path: issue.path.join('.'), message: issue.message };
}

function checkObject(
  value: unknown,
  fields: readonly string[],
  checks: Readonly<Record<string, Check>>,
): Issue | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return fail('expected an object');
  }
  const record = value as Record<string, unknown>;
  for (const field of fields) {
    const issue = checks[field]!(record[field]);
    if (issue !== undefined) {
      return { path: [field, ...issue.path], message: issue.message };
    }
  }
  // A field outside the schema would reach the log unchecked, with whatever a caller put in it.
  // for...in, as zod 4 uses, also finds an inherited enumerable key.
  for (const key in record) {
    if (!Object.hasOwn(checks, key)) {
      return { path: [key], message: 'not a field of the audit record schema' };
    }
  }
  return undefined;
}

function fail(message: string): Issue {
  return { path: [], message };
}

// A raw ESC or bidi override in a record would reach an auditor's terminal.
const printable: Check = (value) => {
  if (typeof value !== 'string') {
    return fail('expected a string');
  }
  return isEscaped(value) ? undefined : fail('contains unescaped control or invisible characters');
};

const sha256Hex: Check = (value) =>
  typeof value === 'string' && SHA256_HEX_PATTERN.test(value)
    ? undefined
    : fail('expected 64 lowercase hex digits');

const boolean: Check = (value) =>
  typeof value === 'boolean' ? undefined : fail('expected true or false');

function integer(min = Number.MIN_SAFE_INTEGER, max = Number.MAX_SAFE_INTEGER): Check {
  return (value) =>
    Number.isSafeInteger(value) && (value as number) >= min && (value as number) <= max
      ? undefined
      : fail(`expected a whole number from ${min} to ${max}`);
}

function oneOf(values: readonly unknown[]): Check {
  return (value) =>
    values.includes(value) ? undefined : fail(`expected one of ${values.join(', ')}`);
}

function arrayOf(item: Check): Check {
  return (value) => {
    if (!Array.isArray(value)) {
      return fail('expected an array');
    }
    // An index loop, not forEach, so a hole in a sparse array is checked as undefined.
    for (let index = 0; index < value.length; index++) {
      const issue = item(value[index]);
      if (issue !== undefined) {
        return { path: [String(index), ...issue.path], message: issue.message };
      }
    }
    return undefined;
  };
}

function optional(check: Check): Check {
  return (value) => (value === undefined ? undefined : check(value));
}

function nullable(check: Check): Check {
  return (value) => (value === null ? undefined : check(value));
}

// The form of zod's `z.iso.datetime()`: UTC with `Z`, seconds required, any fraction.
const DATETIME = /^(\d{4})-(\d{2})-(\d{2})T(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d(?:\.\d+)?Z$/;

const datetime: Check = (value) => {
  const match = typeof value === 'string' ? DATETIME.exec(value) : null;
  if (match === null || !isCalendarDate(Number(match[1]), Number(match[2]), Number(match[3]))) {
    return fail('expected an ISO 8601 date and time in UTC, such as 2026-01-31T12:00:00.000Z');
  }
  return undefined;
};

function isCalendarDate(year: number, month: number, day: number): boolean {
  return month >= 1 && month <= 12 && day >= 1 && day <= daysInMonth(year, month);
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) {
    const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
    return leap ? 29 : 28;
  }
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}

const count = integer(0);

const RPC_CHECKS = {
  puts: optional(count),
  gets: optional(count),
  deletes: optional(count),
  commit: optional(boolean),
  refused_method: optional(nullable(printable)),
} satisfies Record<(typeof RPC_FIELD_ORDER)[number], Check>;

const FIELD_CHECKS = {
  schema_version: oneOf([SCHEMA_VERSION]),
  time: datetime,
  event: oneOf(AUDIT_EVENTS),
  session_id: optional(printable),
  host: printable,
  client_id: optional(nullable(printable)),
  key_fingerprint: optional(printable),
  client_ip: optional(printable),
  client_port: optional(integer(0, 65535)),
  command: optional(printable),
  decision: optional(oneOf(DECISIONS)),
  reason: optional(printable),
  repository: optional(printable),
  restrictions: optional(arrayOf(printable)),
  mode: optional(printable),
  exit_code: optional(nullable(integer())),
  signal: optional(nullable(printable)),
  duration_ms: optional(count),
  bytes_in: optional(count),
  bytes_out: optional(count),
  rpc: optional((value) => checkObject(value, RPC_FIELD_ORDER, RPC_CHECKS)),
  prev_hash: sha256Hex,
  hash: sha256Hex,
} satisfies Record<(typeof FIELD_ORDER)[number], Check>;
