import { execFileSync, spawn } from 'node:child_process';
import {
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readAllLogLines } from '../../../src/lib/audit-log/reader.js';
import { verifyAuditLog } from '../../../src/lib/audit-log/verify.js';
import { openAuditLog } from '../../../src/lib/audit-log/writer.js';
import { bundleFixture } from './build-fixture.js';

const LOGROTATE = '/usr/sbin/logrotate';
const DEPLOYED_CONFIG = join(import.meta.dirname, '../../../deploy/logrotate/borg-gate');

let dir: string;
let logPath: string;
let configPath: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'borg-gate-logrotate-'));
  logPath = join(dir, 'audit.log');
  configPath = join(dir, 'logrotate.conf');
  // The shipped config, pointed at the temporary log; the test runs as root, not borg.
  const config = readFileSync(DEPLOYED_CONFIG, 'utf8')
    .replace('/var/log/borg-gate/audit.log', logPath)
    .replace('su borg adm', 'su root root');
  writeFileSync(configPath, config, { mode: 0o644 });
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

function rotate(): void {
  execFileSync(LOGROTATE, ['--force', '--state', join(dir, 'state'), configPath], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
}

function runWorker(script: string, id: number, count: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, logPath, String(id), String(count)], {
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    child.on('error', reject);
    child.on('close', (code) => resolve(code ?? -1));
  });
}

describe.skipIf(!existsSync(LOGROTATE))('deploy/logrotate/borg-gate', () => {
  it('keeps the chain across rotations', async () => {
    const log = await openAuditLog(logPath, { fsync: false });
    for (let round = 0; round < 4; round++) {
      await log.append({ event: 'check', session_id: `round-${round}` });
      await log.append({ event: 'check', session_id: `round-${round}-b` });
      rotate();
    }
    await log.append({ event: 'check', session_id: 'last' });

    const result = await verifyAuditLog(logPath);

    expect(result.problems).toEqual([]);
    expect(result.records).toBe(9);
    expect(result.files).toEqual([
      `${logPath}.4.gz`,
      `${logPath}.3.gz`,
      `${logPath}.2.gz`,
      `${logPath}.1`,
      logPath,
    ]);
  });

  it('loses no record while rotating under load', async () => {
    const script = await bundleFixture('append-worker', dir);
    const workers = 8;
    const perWorker = 40;
    const running = Promise.all(
      Array.from({ length: workers }, (_, id) => runWorker(script, 100 + id, perWorker)),
    );
    let finished = false;
    void running.then(() => {
      finished = true;
    });
    let rotations = 0;
    while (!finished) {
      rotate();
      rotations++;
      await new Promise((resolve) => setTimeout(resolve, 30));
    }
    const codes = await running;

    expect(codes.every((code) => code === 0)).toBe(true);
    expect(rotations).toBeGreaterThan(3);
    const result = await verifyAuditLog(logPath);
    expect(result.problems).toEqual([]);
    expect(result.files.length).toBeGreaterThan(3);
    // logrotate moves a file it did not expect aside as audit.log-DATE.backup.
    expect(readdirSync(dir).filter((name) => name.endsWith('.backup'))).toEqual([]);
    // With nocreate, the newest file is the one the last writer created, unless a rotation
    // came after the last record.
    const newest = existsSync(logPath) ? logPath : `${logPath}.1`;
    expect(statSync(newest).mode & 0o777).toBe(0o640);
    const sessions = new Set<string>();
    for await (const line of readAllLogLines(logPath)) {
      sessions.add(JSON.parse(line.text).session_id);
    }
    for (let id = 100; id < 100 + workers; id++) {
      for (let index = 0; index < perWorker; index++) {
        expect(sessions.has(`${id}-${index}`)).toBe(true);
      }
    }
  }, 120_000);
});
