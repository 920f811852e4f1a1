import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { FIELD_ORDER } from '../../../src/lib/audit-log/fields.js';
import {
  createRecordProjector,
  writerLayoutPattern,
} from '../../../src/lib/audit-log/projection.js';
import { parseLine } from '../../../src/lib/audit-log/reader.js';
import { openAuditLog } from '../../../src/lib/audit-log/writer.js';

const FIELDS = [
  'time',
  'event',
  'client_id',
  'reason',
  'bytes_in',
  'rpc',
  'rpc.commit',
  'restrictions',
];
const project = createRecordProjector(FIELDS);

const root = mkdtempSync(join(tmpdir(), 'borg-gate-projection-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** Returns the chosen fields of `JSON.parse`, undefined where missing: the expected result. */
function expected(line: string): unknown[] | undefined {
  const record = parseLine(line);
  if (record === undefined) {
    return undefined;
  }
  return FIELDS.map((field) => fieldOf(record, field.split('.')));
}

function fieldOf(value: unknown, path: string[]): unknown {
  const [key, ...rest] = path;
  if (key === undefined) {
    return value;
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return undefined;
  }
  const member = Object.hasOwn(value, key) ? (value as Record<string, unknown>)[key] : undefined;
  return fieldOf(member, rest);
}

const scalar = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 12 }),
  fc.string({ unit: fc.constantFrom('a', '"', '\\', '/', '\n', '\u0000', 'é', '\u2028') }),
  fc.double(),
  fc.integer(),
  fc.constantFrom(0, -0, 1e21, 5e-324, true, false, null),
);
const value = fc.oneof(
  { weight: 8, arbitrary: scalar },
  fc.array(scalar, { maxLength: 3 }),
  fc.dictionary(
    fc.constantFrom('commit', 'puts', '__proto__', 'a"b', 'x"commit', 'comm\\u0069t'),
    scalar,
    { maxKeys: 3 },
  ),
  fc.array(fc.array(scalar, { maxLength: 2 }), { maxLength: 2 }),
);

/** A record line with the writer's field order, possibly missing fields. */
const writerLine = fc
  .tuple(
    value,
    fc.array(fc.tuple(fc.boolean(), value), {
      minLength: FIELD_ORDER.length - 1,
      maxLength: FIELD_ORDER.length - 1,
    }),
  )
  .map(([first, rest]) => {
    const record: Record<string, unknown> = { [FIELD_ORDER[0]]: first };
    rest.forEach(([present, member], index) => {
      if (present) {
        record[FIELD_ORDER[index + 1]!] = member;
      }
    });
    return JSON.stringify(record);
  });

/** Replaces, inserts or deletes one character, to make lines the pattern must reject. */
const mutatedLine = fc
  .tuple(
    writerLine,
    fc.nat(),
    fc.constantFrom('replace', 'insert', 'delete'),
    fc.constantFrom('"', '\\', ',', ':', '{', '}', '[', ']', ' ', '0', '-', 'e', '\r', 'x'),
  )
  .map(([line, at, edit, char]) => {
    const index = at % (line.length + 1);
    const tail = edit === 'insert' ? line.slice(index) : line.slice(index + 1);
    return line.slice(0, index) + (edit === 'delete' ? '' : char) + tail;
  });

describe('createRecordProjector', () => {
  it('matches JSON.parse on writer lines', () => {
    const pattern = writerLayoutPattern(FIELDS);
    let matched = 0;
    fc.assert(
      fc.property(writerLine, (line) => {
        matched += pattern.test(line) ? 1 : 0;
        expect(project(line)).toStrictEqual(expected(line));
      }),
      { numRuns: 2000 },
    );
    // Most lines must take the pattern's way, or the property tests only the fallback.
    expect(matched).toBeGreaterThan(600);
  });

  it('matches JSON.parse on damaged lines', () => {
    fc.assert(
      fc.property(mutatedLine, (line) => {
        expect(project(line)).toStrictEqual(expected(line));
      }),
      { numRuns: 5000 },
    );
  });

  it.each([
    ['escaped string', '{"schema_version":1,"client_id":"a\\\\b\\u00e9\\"c"}'],
    ['duplicate key', '{"schema_version":1,"event":"a","event":"b"}'],
    ['other key order', '{"event":"a","schema_version":1,"time":"t"}'],
    ['escaped key', '{"schema_version":1,"\\u0065vent":"a"}'],
    ['whitespace', '{ "schema_version":1, "event":"a" }'],
    ['carriage return', '{"schema_version":1,"event":"a"}\r'],
    ['unknown key', '{"schema_version":1,"event":"a","extra":1}'],
    ['nested rpc', '{"schema_version":1,"rpc":{"commit":{"deep":true}}}'],
    ['rpc duplicate member', '{"schema_version":1,"rpc":{"commit":false,"commit":true}}'],
    ['rpc escaped member', '{"schema_version":1,"rpc":{"comm\\u0069t":true}}'],
    ['rpc member in a key', '{"schema_version":1,"rpc":{"x\\"commit":true}}'],
    ['rpc member in a value', '{"schema_version":1,"rpc":{"a":",\\"commit\\":true"}}'],
    ['rpc array', '{"schema_version":1,"rpc":[true]}'],
    ['negative zero', '{"schema_version":1,"bytes_in":-0}'],
    ['huge number', '{"schema_version":1,"bytes_in":1e400}'],
    ['leading zero', '{"schema_version":1,"bytes_in":01}'],
    ['raw control character', '{"schema_version":1,"reason":"a\u0001b"}'],
    ['bad escape', '{"schema_version":1,"reason":"a\\qb"}'],
    ['trailing comma', '{"schema_version":1,"event":"a",}'],
    ['array', '[{"schema_version":1}]'],
    ['empty line', ''],
    ['truncated', '{"schema_version":1,"event":"a"'],
  ])('%s', (_name, line) => {
    expect(project(line)).toStrictEqual(expected(line));
  });

  it('sets missing fields to undefined', () => {
    expect(project('{"schema_version":1,"event":"check"}')).toStrictEqual([
      undefined,
      'check',
      undefined,
      undefined,
      undefined,
      undefined,
      undefined,
      undefined,
    ]);
  });
});

describe('writerLayoutPattern', () => {
  it('matches lines from the writer', async () => {
    const logPath = join(root, 'audit.log');
    const log = await openAuditLog(logPath, { fsync: false });
    await log.append({
      event: 'session_start',
      session_id: 's1',
      client_id: 'laptop',
      key_fingerprint: 'SHA256:abc',
      client_ip: '192.0.2.1',
      client_port: 50000,
      command: 'borg serve --info \u001b[2J',
      decision: 'allow',
      repository: '/srv/borg/laptop',
      restrictions: ['--restrict-to-repository /srv/borg/laptop'],
      mode: 'append-only',
    });
    await log.append({
      event: 'session_end',
      session_id: 's1',
      client_id: 'laptop',
      decision: 'allow',
      repository: '/srv/borg/laptop',
      exit_code: 0,
      signal: null,
      duration_ms: 1200,
      bytes_in: 4096,
      bytes_out: 512,
      rpc: { puts: 3, gets: 1, deletes: 0, commit: true, refused_method: null },
    });
    await log.append({ event: 'session_refused', client_id: null, reason: 'unknown-key: x' });
    await log.close();
    const lines = readFileSync(logPath, 'utf8').split('\n').slice(0, -1);
    const pattern = writerLayoutPattern(FIELDS);

    expect(lines).toHaveLength(3);
    for (const line of lines) {
      expect(pattern.test(line)).toBe(true);
    }
  });
});
