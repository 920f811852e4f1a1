import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type ListenFixture, startListen } from './harness/listen.js';

// SIGTERM stops new connections at once; a running backup may finish within the timeout.
describe('listen shutdown', () => {
  let server: ListenFixture | undefined;

  afterEach(async () => {
    await server?.close();
  });

  /** Starts a listen server with one initialised repository for client "app". */
  async function serverWithRepo(
    shutdownTimeout: number,
  ): Promise<{ server: ListenFixture; repo: string }> {
    const started = await startListen({
      extraArgs: ['--shutdown-timeout', String(shutdownTimeout)],
    });
    const repo = join(started.dir, 'repos', 'app');
    mkdirSync(join(started.dir, 'repos'));
    started.writePolicy({
      clients: [
        {
          id: 'app',
          keys: [started.key('app').publicLine],
          repositories: [repo],
          mode: 'read-write',
        },
      ],
    });
    expect((await started.borg('app', ['init', '-e', 'none', started.url(repo)])).code).toBe(0);
    return { server: started, repo };
  }

  /** Starts `borg create` that reads the archive from a stdin the test keeps open. */
  async function startSlowBackup(fixture: ListenFixture, repo: string) {
    const before = fixture.auditRecords().length;
    const borg = spawn('borg', ['create', `${fixture.url(repo)}::stdin`, '-'], {
      env: fixture.borgEnv('app'),
      stdio: ['pipe', 'ignore', 'pipe'],
    });
    let stderr = '';
    borg.stderr?.on('data', (chunk) => {
      stderr += chunk.toString();
    });
    borg.stdin?.write(Buffer.alloc(64 * 1024, 1));
    const exited = new Promise<number | null>((resolve) =>
      borg.once('exit', (code) => resolve(code)),
    );
    await waitUntil(() =>
      fixture
        .auditRecords()
        .slice(before)
        .some((record) => record.event === 'session_start'),
    );
    return { borg, exited, stderr: () => stderr };
  }

  it('running backup finishes after SIGTERM', async () => {
    const setup = await serverWithRepo(60);
    server = setup.server;
    const backup = await startSlowBackup(server, setup.repo);

    server.process.kill('SIGTERM');
    await server.waitForLog((record) => record.event === 'listen_stopping');
    const late = await server.ssh('app', ['borg', 'serve']);
    expect(late.code).toBe(255);
    expect(late.stderr).toContain('Connection refused');

    backup.borg.stdin?.end(Buffer.alloc(64 * 1024, 2));
    expect(await backup.exited).toBe(0);
    expect(await server.exited).toBe(0);
    const stop = await server.waitForLog((record) => record.event === 'listen_stop');
    expect(stop.sessions_left).toBe(0);
    const end = server.auditRecords().find((record) => record.event === 'session_end');
    expect(end?.exit_code).toBe(0);
  }, 120_000);

  it('shutdown timeout stops borg', async () => {
    const setup = await serverWithRepo(1);
    server = setup.server;
    const backup = await startSlowBackup(server, setup.repo);

    server.process.kill('SIGTERM');
    const terminated = await server.waitForLog(
      (record) => record.event === 'sessions_terminated',
      20_000,
    );
    expect(terminated.borg_processes).toBe(1);
    expect(await server.exited).toBe(0);
    // The client notices the closed connection on its next write.
    backup.borg.stdin?.end(Buffer.alloc(64 * 1024, 2));
    expect(await backup.exited).not.toBe(0);
    const end = server.auditRecords().find((record) => record.event === 'session_end');
    // borg 1.2's serve treats SIGTERM as a request to stop and exits 0; the record still closes.
    expect(end?.client_id).toBe('app');
  }, 120_000);
});

async function waitUntil(condition: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) {
      throw new Error('condition not met in time');
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
