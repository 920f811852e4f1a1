import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditRecordSchema } from '../../src/lib/audit-log/record.js';
import {
  type BorgResult,
  GATE,
  type GateFixture,
  makeSourceTree,
  run,
  startGate,
} from './harness/gate.js';
import { borgServeProcesses } from './harness/processes.js';
import { lockFiles } from './harness/repo-files.js';

const CLIENTS = 50;

/** Returns the client id, which is also the key name and the repository name, for `index`. */
function clientName(index: number): string {
  return `load${String(index).padStart(2, '0')}`;
}

describe('50 clients at once', () => {
  let gate: GateFixture;
  let source: string;
  const repos: string[] = [];

  beforeAll(async () => {
    gate = await startGate();
    source = makeSourceTree(join(gate.dir, 'source'));
    mkdirSync(join(gate.dir, 'repos'));
    const clients = [];
    for (let index = 0; index < CLIENTS; index += 1) {
      const name = clientName(index);
      const repo = join(gate.dir, 'repos', name);
      repos.push(repo);
      clients.push({
        id: name,
        keys: [gate.key(name).publicLine],
        repositories: [repo],
        mode: 'read-write',
      });
    }
    gate.writePolicy({ clients });
  });

  afterAll(async () => {
    await gate?.close();
  });

  /** Runs one borg command for every client at the same time and returns the results in order. */
  function everyClient(args: (index: number) => string[], cwd?: string) {
    return Promise.all(
      repos.map((_, index) =>
        gate.borg(clientName(index), args(index), { cwd, timeoutMs: 170_000 }),
      ),
    );
  }

  /** Checks every client's result; a failure shows that client's refusal records. */
  function expectAllSucceeded(results: BorgResult[]): void {
    const records = gate.auditRecords();
    for (const [index, result] of results.entries()) {
      const refusals = records.filter(
        (record) => record.client_id === clientName(index) && record.event === 'session_refused',
      );
      const context = `${clientName(index)}: ${result.stderr} ${JSON.stringify(refusals)}`;
      // NOTE: stderr is not required to be empty, because sshd runs the forced command through
      // the account's shell, whose start-up files may print warnings under load.
      expect(result.stderr, context).not.toMatch(/borg-gate:|Error|Traceback/);
      expect(refusals, context).toEqual([]);
      expect(result.code, context).toBe(0);
    }
  }

  /** Checks that one round left a start and an end record, with exit code 0, per client. */
  function expectRoundRecords(records: Array<Record<string, unknown>>): void {
    for (let index = 0; index < CLIENTS; index += 1) {
      const own = records.filter((record) => record.client_id === clientName(index));
      const starts = own.filter((record) => record.event === 'session_start');
      const ends = own.filter((record) => record.event === 'session_end');
      expect(starts, clientName(index)).toHaveLength(1);
      expect(ends, clientName(index)).toHaveLength(1);
      expect(ends[0]!.session_id).toBe(starts[0]!.session_id);
      expect(ends[0]!.exit_code).toBe(0);
      expect(ends[0]!.repository).toBe(repos[index]);
    }
  }

  it('init and create all succeed', async () => {
    const initialised = await everyClient((index) => [
      'init',
      '-e',
      'none',
      gate.url(repos[index]!),
    ]);
    expectAllSucceeded(initialised);
    const afterInit = gate.auditRecords();
    expect(afterInit).toHaveLength(2 * CLIENTS);
    expectRoundRecords(afterInit);

    const created = await everyClient(
      (index) => ['create', `${gate.url(repos[index]!)}::first`, '.'],
      source,
    );
    expectAllSucceeded(created);
    const all = gate.auditRecords();
    expect(all).toHaveLength(4 * CLIENTS);
    expectRoundRecords(all.slice(2 * CLIENTS));
    for (const repo of repos) {
      expect(borgServeProcesses(repo)).toEqual([]);
      expect(lockFiles(repo)).toEqual([]);
    }
  }, 400_000);

  it('audit log verifies', async () => {
    const records = gate.auditRecords();
    expect(records).toHaveLength(4 * CLIENTS);
    for (const record of records) {
      expect(auditRecordSchema.safeParse(record).success).toBe(true);
    }
    const verify = await run(process.execPath, [GATE, 'audit', 'verify', '--file', gate.auditLog], {
      timeoutMs: 60_000,
    });
    expect(verify.stderr).toBe('');
    expect(verify.code).toBe(0);
  });
});
