import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import type { RecordFilter } from '../../src/commands/audit/filter.js';
import { LineOutput } from '../../src/commands/audit/output.js';
import { runQuery } from '../../src/commands/audit/query.js';
import { summarizeClients } from '../../src/commands/audit/summary.js';
import { FIELD_ORDER } from '../../src/lib/audit-log/fields.js';

const root = mkdtempSync(join(tmpdir(), 'borg-gate-audit-stream-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let counter = 0;

function freshLogPath(): string {
  const dir = join(root, `case-${counter++}`);
  mkdirSync(dir);
  return join(dir, 'audit.log');
}

/** Record number `index` of a busy log: three clients, refusals, commits and checks. */
function record(index: number): Record<string, unknown> {
  const client = ['laptop', 'server', 'nas'][index % 3]!;
  const event = ['session_start', 'session_end', 'session_refused', 'check'][index % 4]!;
  const fields: Record<string, unknown> = {
    schema_version: 1,
    time: new Date(Date.UTC(2026, 11, 1) + index * 1000).toISOString(),
    event,
    session_id: `s${index}`,
    host: 'backup1',
    client_id: index % 50 === 0 ? null : client,
    decision: event === 'session_refused' ? 'refuse' : 'allow',
    repository: `/srv/borg/${client}/${index % 7 === 0 ? 'esc\\\\ape "q"' : 'main'}`,
    prev_hash: '0'.repeat(64),
    hash: '1'.repeat(64),
  };
  if (event === 'session_refused') {
    fields.reason = `forbidden-option: --x${index % 5}`;
  }
  if (event === 'session_end') {
    Object.assign(fields, {
      bytes_in: index * 1000,
      bytes_out: index,
      rpc: { puts: index % 3, commit: index % 3 !== 0, refused_method: null },
    });
  }
  return fields;
}

/** Serializes with the writer's field order, or with the keys reversed. */
function line(fields: Record<string, unknown>, writerOrder: boolean): string {
  const keys = FIELD_ORDER.filter((key) => key in fields);
  const ordered = writerOrder ? keys : keys.reverse();
  return JSON.stringify(Object.fromEntries(ordered.map((key) => [key, fields[key]])));
}

/** Writes `lines` over audit.log.1.gz and audit.log, half each. */
function writeLog(lines: string[]): string {
  const logPath = freshLogPath();
  const half = Math.floor(lines.length / 2);
  writeFileSync(`${logPath}.1.gz`, gzipSync(`${lines.slice(0, half).join('\n')}\n`));
  writeFileSync(logPath, `${lines.slice(half).join('\n')}\n`);
  return logPath;
}

async function query(logPath: string, filter: RecordFilter) {
  const output = new LineOutput(new PassThrough().resume());
  const warnings: string[] = [];
  const stats = await runQuery(logPath, filter, true, output, (message) => {
    warnings.push(message);
  });
  return { stats, warnings };
}

describe('summarizeClients', () => {
  it('gives the same summary for both layouts', async () => {
    const records = Array.from({ length: 3000 }, (_, index) => record(index));
    const writer = writeLog(records.map((fields) => line(fields, true)));
    const reversed = writeLog(records.map((fields) => line(fields, false)));
    const filters: RecordFilter[] = [
      {},
      { client: 'laptop' },
      { repository: '/srv/borg/nas/main' },
      { since: Date.UTC(2026, 11, 1, 0, 10), decision: 'refuse' },
      { grep: 'esc' },
    ];

    for (const filter of filters) {
      const fromWriter = await summarizeClients(writer, filter, () => {});
      const fromReversed = await summarizeClients(reversed, filter, () => {});
      expect(fromWriter.length).toBeGreaterThan(0);
      expect(JSON.stringify(fromWriter)).toBe(JSON.stringify(fromReversed));
    }
  });

  it('counts corrupt lines in both files', async () => {
    const lines = Array.from({ length: 200 }, (_, index) => line(record(index), true));
    lines[10] = lines[10]!.slice(0, -1);
    lines[150] = `${lines[150]} x`;
    const warnings: string[] = [];

    await summarizeClients(writeLog(lines), {}, (message) => warnings.push(message));

    expect(warnings).toEqual([
      'skipped 2 lines that are not JSON audit records with a time and an event; run borg-gate audit verify',
    ]);
  });

  it('skips JSON lines without time and event', async () => {
    const lines = [line(record(1), true), '{"time":5,"event":"session_end"}', '{"garbage":1}'];
    const warnings: string[] = [];

    const summaries = await summarizeClients(writeLog(lines), {}, (message) =>
      warnings.push(message),
    );

    expect(summaries.map((summary) => summary.client)).toEqual(['server']);
    expect(warnings).toEqual([
      'skipped 2 lines that are not JSON audit records with a time and an event; run borg-gate audit verify',
    ]);
  });
});

describe('runQuery', () => {
  it('names corrupt lines across chunks', async () => {
    // About 600 KB per file, so each file is decoded in several chunks.
    const lines = Array.from({ length: 4000 }, (_, index) => line(record(index), true));
    for (const index of [5, 1999, 2000, 3998]) {
      lines[index] = `{"client_id":"laptop" corrupt ${index}`;
    }
    const logPath = writeLog(lines);

    const { stats, warnings } = await query(logPath, { client: 'laptop' });

    expect(stats.lines).toBe(4000);
    expect(stats.corrupt).toBe(4);
    expect(warnings).toEqual([
      `${logPath}.1.gz:6: skipped a line that is not a JSON record`,
      `${logPath}.1.gz:2000: skipped a line that is not a JSON record`,
      `${logPath}:1: skipped a line that is not a JSON record`,
      `${logPath}:1999: skipped a line that is not a JSON record`,
    ]);
  });

  it('matches the same records with and without needles', async () => {
    const lines = Array.from({ length: 3000 }, (_, index) => line(record(index), true));
    const logPath = writeLog(lines);
    const expected = lines.filter((text) => text.includes('"client_id":"nas"')).length;

    const { stats } = await query(logPath, { client: 'nas' });

    expect(stats.matched).toBe(expected);
  });
});
