import { describe, expect, it } from 'vitest';
import { childEnvironment, spawnBorg } from '../../../src/lib/session/child.js';

describe('childEnvironment', () => {
  it('keeps only safe variables', () => {
    const env = childEnvironment({
      HOME: '/srv/borg',
      USER: 'borg',
      PATH: '/tmp/evil:/usr/bin',
      SSH_ORIGINAL_COMMAND: 'borg serve --debug',
      LD_PRELOAD: '/tmp/x.so',
      PYTHONPATH: '/tmp',
      BORG_BASE_DIR: '/tmp',
      BORG_PASSPHRASE: 'secret',
    });
    expect(env).toEqual({
      PATH: '/usr/local/bin:/usr/bin:/bin',
      LANG: 'C.UTF-8',
      HOME: '/srv/borg',
      USER: 'borg',
    });
  });
});

/** Options of a borg child whose stdin and stdout the test leaves unread. */
const PIPED = {
  cwd: '/',
  stdio: 'pipe' as const,
  streams: { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr },
  umask: 0o077,
};

describe('spawnBorg', () => {
  it('returns the exit code', async () => {
    const child = spawnBorg('/bin/sh', ['-c', 'exit 7'], { ...PIPED, env: {} });
    expect((await child.exited).code).toBe(7);
  });

  it('reports a signal as 128 plus its number', async () => {
    const child = spawnBorg('/bin/sh', ['-c', 'kill -TERM $$'], { ...PIPED, env: {} });
    expect(await child.exited).toEqual({ code: 143, signal: 'SIGTERM' });
  });

  it('forwards SIGTERM to borg', async () => {
    const child = spawnBorg('/bin/sleep', ['30'], { ...PIPED, env: {} });
    await new Promise((resolve) => setTimeout(resolve, 100));
    process.emit('SIGTERM', 'SIGTERM');
    expect((await child.exited).signal).toBe('SIGTERM');
  });

  it('reports a missing binary', async () => {
    const child = spawnBorg('/nonexistent/borg', [], { ...PIPED, env: {} });
    expect((await child.exited).code).toBe(127);
  });
});
