import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type GateFixture, sshOptions, startGate } from './harness/gate.js';
import { lockFiles } from './harness/repo-files.js';

describe('client killed mid-create', () => {
  let gate: GateFixture;
  let repo: string;
  let source: string;

  beforeAll(async () => {
    gate = await startGate();
    repo = join(gate.dir, 'repo');
    source = join(gate.dir, 'source');
    mkdirSync(source);
    // Incompressible data, so the backup is still running when the client is killed.
    for (let index = 0; index < 12; index += 1) {
      writeFileSync(join(source, `blob${index}`), randomBytes(16 * 1024 * 1024));
    }
    gate.writePolicy({
      clients: [
        {
          id: 'host',
          keys: [gate.key('host').publicLine],
          repositories: [repo],
          mode: 'read-write',
        },
      ],
    });
    expect((await gate.borg('host', ['init', '-e', 'none', gate.url(repo)])).code).toBe(0);
  });

  afterAll(async () => {
    await gate?.close();
  });

  it('leaves no borg process and no lock', async () => {
    const client = spawn('borg', ['create', `${gate.url(repo)}::interrupted`, '.'], {
      cwd: source,
      env: {
        PATH: process.env.PATH,
        HOME: join(gate.dir, 'client'),
        BORG_BASE_DIR: join(gate.dir, 'client', 'killed'),
        BORG_RSH: ['ssh', ...sshOptions(gate.key('host').privateKey)].join(' '),
        BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK: 'yes',
      },
      stdio: 'ignore',
      detached: true,
    });
    await waitFor(() => serverProcesses(repo).length > 0, 20_000);
    await sleep(1500);
    // Kill the whole client process group: borg and the ssh it started.
    process.kill(-client.pid!, 'SIGKILL');
    await waitFor(() => serverProcesses(repo).length === 0, 20_000);
    expect(serverProcesses(repo)).toEqual([]);
    expect(lockFiles(repo)).toEqual([]);

    const again = await gate.borg('host', ['create', `${gate.url(repo)}::after`, '.'], {
      cwd: source,
      timeoutMs: 120_000,
    });
    expect(again.stderr).not.toContain('lock');
    expect(again.code).toBe(0);
    const last = gate.auditRecords().filter((record) => record.event === 'session_end');
    expect(last.length).toBeGreaterThanOrEqual(2);
  });
});

/** PIDs of `borg serve` processes (and the gate) serving `repo`. */
function serverProcesses(repo: string): string[] {
  try {
    return execFileSync('pgrep', ['-f', `serve.*${repo}`], { encoding: 'utf8' })
      .trim()
      .split('\n')
      .filter(Boolean);
  } catch {
    return [];
  }
}

async function waitFor(condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) {
      throw new Error(`condition not met within ${timeoutMs} ms`);
    }
    await sleep(100);
  }
}
