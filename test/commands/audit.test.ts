import { spawn, spawnSync } from 'node:child_process';
import {
  appendFileSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LineOutput } from '../../src/commands/audit/output.js';
import { runQuery } from '../../src/commands/audit/query.js';
import { summarizeClients } from '../../src/commands/audit/summary.js';
import { ClientTotals } from '../../src/commands/audit/summary-totals.js';
import { openAuditLog } from '../../src/lib/audit-log/writer.js';
import { writeRotatedSample } from './audit-fixtures.js';

/** The bundle `npm run build` writes, as installed; the e2e tests need it built as well. */
const DIST_CLI = join(import.meta.dirname, '../../dist/borg-gate.js');

let root: string;
let buildDir: string;
let cli: string;
let counter = 0;

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'borg-gate-audit-command-'));
  // Inside node_modules, so the external ssh2 package resolves at run time.
  const cacheDir = join(import.meta.dirname, '../../node_modules/.cache');
  mkdirSync(cacheDir, { recursive: true });
  buildDir = mkdtempSync(join(cacheDir, 'borg-gate-audit-test-'));
  cli = join(buildDir, 'borg-gate.mjs');
  await build({
    entryPoints: [join(import.meta.dirname, '../../src/main.ts')],
    outfile: cli,
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    logLevel: 'warning',
    // ssh2 loads native addons that esbuild can not bundle.
    external: ['ssh2'],
    banner: {
      js: "import { createRequire as __createRequire } from 'node:module';\nconst require = __createRequire(import.meta.url);",
    },
  });
});

afterAll(() => {
  rmSync(root, { recursive: true, force: true });
  rmSync(buildDir, { recursive: true, force: true });
});

function sampleLog(): string {
  const dir = join(root, `case-${counter++}`);
  mkdirSync(dir);
  const logPath = join(dir, 'audit.log');
  writeRotatedSample(logPath);
  return logPath;
}

/** Polls `condition` every 20 ms; rejects after 10 s. */
async function waitFor(condition: () => boolean): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!condition()) {
    if (Date.now() > deadline) {
      throw new Error('condition not met within 10 s');
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function runCli(args: string[]) {
  const result = spawnSync(process.execPath, [cli, 'audit', ...args], {
    encoding: 'utf8',
    env: { ...process.env, BORG_GATE_POLICY: join(root, 'no-policy.yaml') },
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

async function query(logPath: string, filter: Parameters<typeof runQuery>[1], json = true) {
  const stream = new PassThrough();
  let text = '';
  stream.on('data', (chunk) => {
    text += chunk;
  });
  const warnings: string[] = [];
  const stats = await runQuery(logPath, filter, json, new LineOutput(stream), (message) =>
    warnings.push(message),
  );
  const lines = text.split('\n').filter((line) => line !== '');
  return { stats, lines, warnings };
}

describe('runQuery', () => {
  it('reads rotated files in order', async () => {
    const { lines, stats } = await query(sampleLog(), {});

    expect(stats.matched).toBe(8);
    const times = lines.map((line) => JSON.parse(line).time);
    expect(times).toEqual([...times].sort());
  });

  it('filters by client and decision', async () => {
    const { lines } = await query(sampleLog(), { client: 'server', decision: 'refuse' });

    expect(lines.map((line) => JSON.parse(line).reason)).toEqual([
      'forbidden-option: --restrict-to-path',
      'expired-key',
    ]);
  });

  it('filters by time range', async () => {
    const { lines } = await query(sampleLog(), {
      since: Date.parse('2026-12-02T00:00:00Z'),
      until: Date.parse('2026-12-02T23:59:59Z'),
    });

    expect(lines).toHaveLength(3);
  });

  it('filters by grep text', async () => {
    const { lines } = await query(sampleLog(), { grep: 'expired' });

    expect(lines).toHaveLength(1);
  });

  it('skips and names a corrupt line', async () => {
    const logPath = sampleLog();
    appendFileSync(logPath, 'garbage\n');

    const { stats, warnings } = await query(logPath, {});

    expect(stats.matched).toBe(8);
    expect(stats.corrupt).toBe(1);
    expect(warnings).toEqual([`${logPath}:4: skipped a line that is not a JSON record`]);
  });

  it('skips and names a JSON line that is no record', async () => {
    const logPath = sampleLog();
    appendFileSync(logPath, '{"garbage":1}\n');

    const { stats, warnings } = await query(logPath, {});

    expect(stats.matched).toBe(8);
    expect(stats.corrupt).toBe(1);
    expect(warnings).toEqual([
      `${logPath}:4: skipped a JSON line without the "time" and "event" of an audit record`,
    ]);
  });

  it('prints padded columns', async () => {
    const { lines } = await query(sampleLog(), { client: 'server', event: 'session_end' }, false);

    expect(lines[0]).toMatch(/^TIME {2,}EVENT {2,}CLIENT/);
    expect(lines[1]).toMatch(
      /^2026-12-03T10:30:00Z {2}session_end {6}server {12}allow {5}\/srv\/borg\/server +exit=0/,
    );
  });

  it('escapes raw control text in a hand-edited line', async () => {
    const logPath = sampleLog();
    appendFileSync(
      logPath,
      '{"time":"2026-12-04T00:00:00Z","event":"check","reason":"\u202eevil\u0085"}\n',
    );

    const table = await query(logPath, { event: 'check' }, false);
    const json = await query(logPath, { event: 'check' }, true);

    expect(table.lines[1]).toContain('\\u202eevil\\x85');
    expect(json.lines[0]).toContain('\\u202eevil\\u0085');
    expect(JSON.parse(json.lines[0]!).reason).toBe('\u202eevil\u0085');
  });
});

describe('summarizeClients', () => {
  it('aggregates per client', async () => {
    const [laptop, server] = await summarizeClients(sampleLog(), {}, () => {});

    expect(laptop).toMatchObject({
      client: 'laptop',
      last_access: '2026-12-02T09:01:00.000Z',
      connections: 2,
      refusals: 0,
      bytes_in: 1500,
      bytes_out: 15,
      last_refusal_reason: null,
    });
    // The 2026-12-02 session did not commit, so the last write stays at 2026-12-01.
    expect({ ...laptop?.last_write }).toEqual({ '/srv/borg/laptop': '2026-12-01T08:05:00.000Z' });
    expect(server).toMatchObject({
      client: 'server',
      connections: 3,
      refusals: 2,
      last_refusal_reason: 'expired-key',
      last_refusal_time: '2026-12-03T11:00:00.000Z',
    });
    expect({ ...server?.last_write }).toEqual({ '/srv/borg/server': '2026-12-03T10:30:00.000Z' });
  });

  it('leaves bytes out unknown while no session of the client counted them', () => {
    const totals = new ClientTotals();
    const end = { event: 'session_end', client_id: 'web', bytes_in: 10 };
    totals.add({ ...end, time: '2026-12-05T01:00:00.000Z' });
    expect(totals.summaries()[0]).toMatchObject({ bytes_in: 10, bytes_out: null });
    // A quota session relays replies and counts them.
    totals.add({ ...end, time: '2026-12-05T02:00:00.000Z', bytes_out: 7 });
    expect(totals.summaries()[0]).toMatchObject({ bytes_in: 20, bytes_out: 7 });
  });

  it('applies filters', async () => {
    const summaries = await summarizeClients(sampleLog(), { client: 'laptop' }, () => {});

    expect(summaries.map((summary) => summary.client)).toEqual(['laptop']);
  });
});

describe('borg-gate audit', () => {
  it('verify passes across rotation', () => {
    const result = runCli(['verify', '--file', sampleLog()]);

    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^OK: 8 records in 3 file\(s\)/);
  });

  it('verify names the edited line', () => {
    const logPath = sampleLog();
    const text = readFileSync(`${logPath}.1`, 'utf8');
    writeFileSync(`${logPath}.1`, text.replace('"exit_code":2', '"exit_code":0'));

    const result = runCli(['verify', '--file', logPath]);

    expect(result.code).toBe(1);
    expect(result.stdout).toContain(`${logPath}.1:3: hash_mismatch:`);
  });

  it('verify checks an anchor', () => {
    const logPath = sampleLog();
    const anchor = JSON.parse(readFileSync(`${logPath}.1`, 'utf8').split('\n')[0]!).hash;

    const present = runCli(['verify', '--file', logPath, '--anchor', anchor]);
    const absent = runCli(['verify', '--file', logPath, '--anchor', 'f'.repeat(64)]);

    expect(present.code).toBe(0);
    expect(absent.code).toBe(1);
    expect(absent.stdout).toContain(`${logPath}: anchor_missing:`);
  });

  it('verify rejects a short anchor', () => {
    const result = runCli(['verify', '--file', sampleLog(), '--anchor', 'deadbeef']);

    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain('--anchor "deadbeef" is not a record hash');
  });

  it('query rejects an unknown event', () => {
    const result = runCli(['--file', sampleLog(), '--event', 'nonsense']);

    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain('Given: "nonsense"');
  });

  it('query prints JSON lines', () => {
    const result = runCli([
      '--file',
      sampleLog(),
      '--client',
      'laptop',
      '--since',
      '2026-12-02',
      '--json',
    ]);

    expect(result.code).toBe(0);
    expect(result.stdout.trim().split('\n')).toHaveLength(2);
    expect(result.stderr).toBe('');
  });

  it('query exits 1 without matches', () => {
    const result = runCli(['query', '--file', sampleLog(), '--client', 'nobody']);

    expect(result.code).toBe(1);
  });

  it('summary prints a table', () => {
    const result = runCli(['summary', '--file', sampleLog()]);

    expect(result.code).toBe(0);
    expect(result.stdout).toContain('expired-key');
    expect(result.stdout).toContain('/srv/borg/server');
  });

  it('tail prints the newest records', () => {
    const result = runCli(['tail', '-n', '2', '--json', '--file', sampleLog()]);

    expect(result.code).toBe(0);
    const events = result.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line).event);
    expect(events).toEqual(['session_end', 'session_refused']);
  });

  // Also the shipped bundle: its code splitting once gave a dynamic import of pino that lacked
  // pino.destination, while this file's single-file bundle worked.
  it.each([
    ['test bundle', () => cli],
    ['dist bundle', () => DIST_CLI],
  ])('tail -f follows rotation (%s)', async (_name, bundle) => {
    const logPath = sampleLog();
    const child = spawn(process.execPath, [
      bundle(),
      'audit',
      'tail',
      '-f',
      '-n',
      '0',
      '--json',
      '--file',
      logPath,
    ]);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
    });
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    try {
      await waitFor(() => stderr.includes('following the audit log'));

      const log = await openAuditLog(logPath, { fsync: false });
      await log.append({ event: 'check', session_id: 'before-rotation' });
      await waitFor(() => stdout.includes('before-rotation'));
      renameSync(logPath, `${logPath}.1`);
      await log.append({ event: 'check', session_id: 'after-rotation' });
      await waitFor(() => stdout.includes('after-rotation'));
    } finally {
      // Also stops the follower when a step above failed, so no process outlives the test.
      child.kill('SIGINT');
    }

    expect(await exited).toBe(0);
    const sessions = stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line).session_id);
    expect(sessions).toEqual(['before-rotation', 'after-rotation']);
    expect(stderr).toContain('reopened the audit log');
  });

  it('schema prints a JSON Schema', () => {
    const result = runCli(['schema']);

    expect(result.code).toBe(0);
    const schema = JSON.parse(result.stdout);
    expect(schema.$schema).toContain('json-schema.org');
    expect(schema.properties.event.enum).toContain('session_end');
    expect(schema.required).toContain('hash');
  });

  it('names a missing log file', () => {
    const logPath = join(root, 'missing', 'audit.log');

    const result = runCli(['verify', '--file', logPath]);

    expect(result.code).toBe(2);
    expect(result.stderr).toContain(logPath);
    expect(result.stdout).toBe('');
  });

  it('names an unreadable rotated file', () => {
    const logPath = sampleLog();
    writeFileSync(`${logPath}.3.gz`, 'not gzip');

    const result = runCli(['--file', logPath]);

    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`${logPath}.3.gz`);
  });

  it('rejects an invalid --since', () => {
    const result = runCli(['--file', sampleLog(), '--since', 'yesterday']);

    expect(result.code).toBe(2);
    expect(result.stderr).toContain('invalid --since "yesterday"');
  });
});
