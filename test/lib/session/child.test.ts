import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { childEnvironment, signalBorgChildren, spawnBorg } from '../../../src/lib/session/child.js';

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

  it('sets the umask for borg only', async () => {
    const before = process.umask();
    const output = new PassThrough();
    const streams = { stdin: new PassThrough(), stdout: output, stderr: new PassThrough() };
    const child = spawnBorg('/bin/sh', ['-c', 'umask'], {
      ...PIPED,
      env: {},
      stdio: 'inherit',
      streams,
      umask: 0o027,
    });
    let text = '';
    output.on('data', (chunk: Buffer) => {
      text += chunk.toString();
    });
    expect((await child.exited).code).toBe(0);
    expect(text.trim()).toBe('0027');
    expect(process.umask()).toBe(before);
  });

  it('pipes stderr to a session stream', async () => {
    const stderr = new PassThrough();
    let text = '';
    stderr.on('data', (chunk: Buffer) => {
      text += chunk.toString();
    });
    const streams = { ...PIPED.streams, stderr };
    const child = spawnBorg('/bin/sh', ['-c', 'echo oops >&2'], { ...PIPED, env: {}, streams });
    expect((await child.exited).code).toBe(0);
    expect(text).toBe('oops\n');
  });

  it('signals every running child', async () => {
    const children = [1, 2].map(() => spawnBorg('/bin/sleep', ['30'], { ...PIPED, env: {} }));
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(signalBorgChildren('SIGTERM')).toBe(2);
    for (const child of children) {
      expect((await child.exited).signal).toBe('SIGTERM');
    }
  });
});
