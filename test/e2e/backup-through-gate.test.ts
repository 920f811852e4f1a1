import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditRecordSchema } from '../../src/lib/audit-log/record.js';
import { type GateFixture, makeSourceTree, startGate } from './harness/gate.js';

describe('backup through the gate', () => {
  let gate: GateFixture;
  let repo: string;
  let source: string;

  beforeAll(async () => {
    gate = await startGate();
    repo = join(gate.dir, 'repos', 'web01');
    mkdirSync(join(gate.dir, 'repos'));
    source = makeSourceTree(join(gate.dir, 'source'));
    gate.writePolicy({
      clients: [
        {
          id: 'web01',
          keys: [gate.key('web01').publicLine],
          repositories: [repo],
          mode: 'read-write',
        },
      ],
    });
  });

  afterAll(async () => {
    await gate?.close();
  });

  it('init, create, list and extract succeed', async () => {
    const init = await gate.borg('web01', ['init', '-e', 'none', gate.url(repo)]);
    expect(init.stderr).toBe('');
    expect(init.code).toBe(0);

    const create = await gate.borg('web01', ['create', `${gate.url(repo)}::first`, '.'], {
      cwd: source,
    });
    expect(create.code).toBe(0);

    const list = await gate.borg('web01', ['list', '--short', gate.url(repo)]);
    expect(list.code).toBe(0);
    expect(list.stdout.trim()).toBe('first');

    const target = join(gate.dir, 'restore');
    mkdirSync(target);
    const extract = await gate.borg('web01', ['extract', `${gate.url(repo)}::first`], {
      cwd: target,
    });
    expect(extract.code).toBe(0);
    expect(readFileSync(join(target, 'sub/b.txt'), 'utf8')).toBe('beta\n');
  });

  it('audit records validate against the schema', () => {
    const records = gate.auditRecords();
    expect(records.length).toBeGreaterThanOrEqual(8);
    for (const record of records) {
      expect(auditRecordSchema.safeParse(record).success).toBe(true);
    }
    const ends = records.filter((record) => record.event === 'session_end');
    expect(ends.every((record) => record.exit_code === 0)).toBe(true);
    // borg writes its replies to the client itself, so only the client's bytes are counted.
    expect(ends.every((record) => Number(record.bytes_in) > 0)).toBe(true);
    expect(ends.some((record) => 'bytes_out' in record)).toBe(false);
    expect(readFileSync(gate.auditLog, 'utf8')).not.toContain('\u001b');
  });
});
