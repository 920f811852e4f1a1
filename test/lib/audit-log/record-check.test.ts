import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { buildRecordBody, checkRecordBody } from '../../../src/lib/audit-log/body.js';
import { escapeUntrusted } from '../../../src/lib/audit-log/escape.js';
import {
  AUDIT_EVENTS,
  DECISIONS,
  FIELD_ORDER,
  GENESIS_HASH,
  RPC_FIELD_ORDER,
} from '../../../src/lib/audit-log/fields.js';
import {
  type AuditRecordInput,
  auditRecordSchema,
  rpcSummarySchema,
} from '../../../src/lib/audit-log/record.js';
import { checkAuditRecord } from '../../../src/lib/audit-log/record-check.js';

const HASH = 'ab'.repeat(32);

/** Completes a body the way the writer does, with chain fields of the right form. */
function chained(body: Record<string, unknown>): Record<string, unknown> {
  return { ...body, prev_hash: GENESIS_HASH, hash: HASH };
}

function handAccepts(record: unknown): boolean {
  return checkAuditRecord(record) === undefined;
}

function zodAccepts(record: unknown): boolean {
  return auditRecordSchema.safeParse(record).success;
}

// Text as clients and the gate pass it: any code point, with control, ANSI and bidi
// characters mixed in more often than chance would.
const rawText = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.constantFrom('\x1b[31mred', '\u202eevil', 'a\nb', '\ud800', 'tab\there', 'back\\slash'),
);
const maybe = <T>(value: fc.Arbitrary<T>) => fc.option(value, { nil: undefined });
const count = fc.nat();

const rpcInput = fc.record(
  {
    puts: maybe(count),
    gets: maybe(count),
    deletes: maybe(count),
    commit: maybe(fc.boolean()),
    refused_method: maybe(fc.option(rawText, { nil: null })),
  },
  { requiredKeys: [] },
);

// Every field a caller may pass, each absent, present as undefined, or set.
const recordInput: fc.Arbitrary<AuditRecordInput> = fc.record(
  {
    event: fc.constantFrom(...AUDIT_EVENTS),
    session_id: maybe(rawText),
    client_id: maybe(fc.option(rawText, { nil: null })),
    key_fingerprint: maybe(rawText),
    client_ip: maybe(rawText),
    client_port: maybe(fc.integer({ min: 0, max: 65535 })),
    command: maybe(fc.string({ unit: 'binary', maxLength: 5000 })),
    decision: maybe(fc.constantFrom(...DECISIONS)),
    reason: maybe(rawText),
    repository: maybe(rawText),
    restrictions: maybe(fc.array(rawText, { maxLength: 4 })),
    mode: maybe(rawText),
    exit_code: maybe(fc.option(fc.integer(), { nil: null })),
    signal: maybe(fc.option(rawText, { nil: null })),
    duration_ms: maybe(count),
    bytes_in: maybe(count),
    bytes_out: maybe(count),
    rpc: maybe(rpcInput),
  },
  { requiredKeys: ['event'] },
);

// openAuditLog escapes the host name once and passes it to every body it builds.
const writerRecord = fc
  .tuple(recordInput, rawText)
  .map(([input, host]) => chained(buildRecordBody(input, escapeUntrusted(host))));

// Values of every JSON type and the number edge cases, to put into any field.
const anyValue = fc.oneof(
  rawText,
  fc.integer(),
  fc.double(),
  fc.constantFrom(-0, 65535, 65536, 2 ** 53, Number.NaN, Number.POSITIVE_INFINITY),
  fc.boolean(),
  fc.constantFrom(null, undefined),
  fc.constantFrom(...AUDIT_EVENTS, ...DECISIONS, HASH, '2026-02-28T23:59:59Z'),
  fc.array(rawText, { maxLength: 3 }),
  fc.dictionary(fc.constantFrom(...RPC_FIELD_ORDER, 'other'), fc.oneof(count, rawText)),
);

describe('checkAuditRecord', () => {
  it('names the schema fields in order', () => {
    expect(FIELD_ORDER).toEqual(Object.keys(auditRecordSchema.shape));
  });

  it('names the rpc fields in order', () => {
    expect(RPC_FIELD_ORDER).toEqual(Object.keys(rpcSummarySchema.shape));
  });

  it('accepts every writer record zod accepts', () => {
    fc.assert(
      fc.property(writerRecord, (record) => {
        expect(zodAccepts(record)).toBe(true);
        expect(handAccepts(record)).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it('agrees with zod on a changed field', () => {
    fc.assert(
      fc.property(
        writerRecord,
        fc.constantFrom(...FIELD_ORDER),
        anyValue,
        (record, field, value) => {
          const changed = { ...record, [field]: value };
          expect(handAccepts(changed)).toBe(zodAccepts(changed));
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('agrees with zod on a changed rpc field', () => {
    const withRpc = fc.tuple(writerRecord, rpcInput).map(([record, rpc]) => ({ ...record, rpc }));
    fc.assert(
      fc.property(
        withRpc,
        fc.constantFrom(...RPC_FIELD_ORDER),
        anyValue,
        (record, field, value) => {
          const changed = { ...record, rpc: { ...record.rpc, [field]: value } };
          expect(handAccepts(changed)).toBe(zodAccepts(changed));
        },
      ),
      { numRuns: 500 },
    );
  });

  it('rejects an unknown field', () => {
    const unknownName = fc
      .string()
      .filter((name) => !(FIELD_ORDER as readonly string[]).includes(name));
    fc.assert(
      fc.property(writerRecord, unknownName, anyValue, (record, name, value) => {
        const changed = { ...record };
        Object.defineProperty(changed, name, { value, enumerable: true });
        expect(zodAccepts(changed)).toBe(false);
        expect(handAccepts(changed)).toBe(false);
      }),
      { numRuns: 300 },
    );
  });

  it('rejects an unescaped invisible character', () => {
    const printableFields = ['host', 'session_id', 'command', 'reason', 'repository', 'signal'];
    const invisible = fc.constantFrom(
      '\x00',
      '\x1b',
      '\x7f',
      '\u0085',
      '\u00a0',
      '\u200b',
      '\u202e',
      '\u2028',
      '\ufeff',
      '\ud800',
      '\u{e0001}',
    );
    fc.assert(
      fc.property(
        writerRecord,
        fc.constantFrom(...printableFields),
        fc.string({ maxLength: 10 }),
        invisible,
        (record, field, text, char) => {
          const changed = { ...record, [field]: `${text}${char}${text}` };
          expect(zodAccepts(changed)).toBe(false);
          expect(handAccepts(changed)).toBe(false);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('agrees with zod on date and time text', () => {
    const digits = (length: number) =>
      fc.string({ unit: fc.constantFrom(...'0123456789'), minLength: length, maxLength: length });
    const dateTime = fc
      .tuple(
        digits(4),
        digits(2),
        digits(2),
        digits(2),
        digits(2),
        digits(2),
        fc.constantFrom('', '.5', '.123', '.', '.123456789'),
        fc.constantFrom('Z', '', '+01:00', 'z'),
      )
      .map(
        ([y, mo, d, h, mi, s, fraction, zone]) =>
          `${y}-${mo}-${d}T${h}:${mi}:${s}${fraction}${zone}`,
      );
    const isoDate = fc.date({ noInvalidDate: true }).map((date) => date.toISOString());
    fc.assert(
      fc.property(writerRecord, fc.oneof(dateTime, isoDate, rawText), (record, time) => {
        const changed = { ...record, time };
        expect(handAccepts(changed)).toBe(zodAccepts(changed));
      }),
      { numRuns: 1000 },
    );
  });
});

const BASE = chained(buildRecordBody({ event: 'session_start', decision: 'allow' }, 'backup1'));

function inheriting(field: string, value: unknown): Record<string, unknown> {
  return Object.assign(Object.create({ [field]: value }), BASE);
}

function sparse(): unknown[] {
  const array: unknown[] = ['/srv/a'];
  array.length = 2;
  return array;
}

describe('checkAuditRecord cases', () => {
  it.each<[string, unknown, boolean]>([
    ['writer record', BASE, true],
    ['record as array', [BASE], false],
    ['record null', null, false],
    ['schema_version 2', { ...BASE, schema_version: 2 }, false],
    ['schema_version text', { ...BASE, schema_version: '1' }, false],
    ['time without fraction', { ...BASE, time: '2024-02-29T23:59:59Z' }, true],
    ['time 29 February 2023', { ...BASE, time: '2023-02-29T00:00:00Z' }, false],
    ['time 29 February 1900', { ...BASE, time: '1900-02-29T00:00:00Z' }, false],
    ['time 29 February 2000', { ...BASE, time: '2000-02-29T00:00:00Z' }, true],
    ['time 31 April', { ...BASE, time: '2026-04-31T00:00:00Z' }, false],
    ['time without seconds', { ...BASE, time: '2026-01-01T10:00Z' }, false],
    ['time with offset', { ...BASE, time: '2026-01-01T10:00:00+01:00' }, false],
    ['time hour 24', { ...BASE, time: '2026-01-01T24:00:00Z' }, false],
    ['time six-digit year', { ...BASE, time: '+010000-01-01T00:00:00.000Z' }, false],
    ['time as number', { ...BASE, time: 0 }, false],
    ['event unknown', { ...BASE, event: 'session_open' }, false],
    ['host missing', { ...BASE, host: undefined }, false],
    ['host number', { ...BASE, host: 1 }, false],
    ['session_id undefined', { ...BASE, session_id: undefined }, true],
    ['client_id null', { ...BASE, client_id: null }, true],
    ['key_fingerprint null', { ...BASE, key_fingerprint: null }, false],
    ['client_port 0', { ...BASE, client_port: 0 }, true],
    ['client_port 65536', { ...BASE, client_port: 65536 }, false],
    ['client_port text', { ...BASE, client_port: '22' }, false],
    ['client_port fraction', { ...BASE, client_port: 22.5 }, false],
    ['command escaped ESC', { ...BASE, command: 'borg \\x1b[2J' }, true],
    ['command raw ESC', { ...BASE, command: 'borg \x1b[2J' }, false],
    ['command bidi override', { ...BASE, command: 'borg \u202eevil' }, false],
    ['reason raw newline', { ...BASE, reason: 'a\nb' }, false],
    ['reason no-break space', { ...BASE, reason: 'a\u00a0b' }, false],
    ['decision maybe', { ...BASE, decision: 'maybe' }, false],
    ['restrictions empty', { ...BASE, restrictions: [] }, true],
    ['restrictions number', { ...BASE, restrictions: ['/srv/a', 1] }, false],
    ['restrictions raw ESC', { ...BASE, restrictions: ['/srv/\x1b'] }, false],
    ['restrictions sparse', { ...BASE, restrictions: sparse() }, false],
    ['restrictions text', { ...BASE, restrictions: '/srv/a' }, false],
    ['exit_code null', { ...BASE, exit_code: null }, true],
    ['exit_code negative', { ...BASE, exit_code: -1 }, true],
    ['exit_code unsafe', { ...BASE, exit_code: 2 ** 53 }, false],
    ['signal null', { ...BASE, signal: null }, true],
    ['duration_ms negative', { ...BASE, duration_ms: -1 }, false],
    ['duration_ms negative zero', { ...BASE, duration_ms: -0 }, true],
    ['duration_ms NaN', { ...BASE, duration_ms: Number.NaN }, false],
    ['bytes_in infinite', { ...BASE, bytes_in: Number.POSITIVE_INFINITY }, false],
    ['bytes_out text', { ...BASE, bytes_out: '10' }, false],
    ['rpc empty', { ...BASE, rpc: {} }, true],
    ['rpc array', { ...BASE, rpc: [] }, false],
    ['rpc null', { ...BASE, rpc: null }, false],
    ['rpc unknown field', { ...BASE, rpc: { puts: 1, reads: 2 } }, false],
    ['rpc commit text', { ...BASE, rpc: { commit: 'yes' } }, false],
    ['rpc refused_method null', { ...BASE, rpc: { refused_method: null } }, true],
    ['rpc refused_method raw ESC', { ...BASE, rpc: { refused_method: '\x1b' } }, false],
    ['prev_hash uppercase', { ...BASE, prev_hash: 'AB'.repeat(32) }, false],
    ['hash short', { ...BASE, hash: 'ab' }, false],
    ['hash missing', { ...BASE, hash: undefined }, false],
    ['unknown field', { ...BASE, note: 'x' }, false],
    ['unknown field undefined', { ...BASE, note: undefined }, false],
    ['inherited unknown field', inheriting('note', 'x'), false],
  ])('%s', (_name, record, expected) => {
    expect(handAccepts(record)).toBe(expected);
    expect(zodAccepts(record)).toBe(expected);
  });
});

describe('checkRecordBody', () => {
  it.each([
    ['client_port', { client_port: 70000 }, /at client_port: expected a whole number/],
    ['unknown field', { extra: 1 }, /at extra: not a field of the audit record schema/],
    ['rpc field', { rpc: { puts: -1 } }, /at rpc\.puts: expected a whole number/],
    ['restrictions item', { restrictions: ['a', 2] }, /at restrictions\.1: expected a string/],
  ])('names %s', (_name, fields, message) => {
    const body = { ...buildRecordBody({ event: 'check' }, 'host'), ...fields };
    expect(() => checkRecordBody('/var/log/audit.log', body)).toThrow(message);
  });

  it('accepts writer body', () => {
    const body = buildRecordBody({ event: 'check', command: '\x1b[2J\u202e' }, 'host');
    expect(() => checkRecordBody('/var/log/audit.log', body)).not.toThrow();
  });
});
