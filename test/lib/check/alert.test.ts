import { readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AlertCommandError, buildAlert, sendAlert } from '../../../src/lib/check/alert.js';
import { makeTempDir, readAlerts, removeTempDir, writeAlertRecorder } from './borg-fixtures.js';

let dir: string;

beforeAll(async () => {
  dir = await makeTempDir('alert');
});

afterAll(async () => {
  await removeTempDir(dir);
});

const alert = buildAlert({
  kind: 'failure',
  repository: '/srv/borg/a',
  check: 'repository_only',
  outcome: 'failed',
  message: 'borg exit code 1:\x1b[31m checksum mismatch',
  last_run: '2026-03-20T12:00:00.000Z',
  last_success: undefined,
  time: '2026-03-20T12:00:01.000Z',
});

describe('sendAlert', () => {
  it('env and stdin reach the command', async () => {
    const { script, log } = await writeAlertRecorder(dir);
    process.env.BORG_PASSPHRASE = 'must not leak';
    try {
      await sendAlert([script], alert);
    } finally {
      delete process.env.BORG_PASSPHRASE;
    }
    const [recorded] = await readAlerts(log);
    expect(recorded!.env.BORG_GATE_ALERT_KIND).toBe('failure');
    expect(recorded!.env.BORG_GATE_ALERT_REPOSITORY).toBe('/srv/borg/a');
    expect(recorded!.env.BORG_GATE_ALERT_OUTCOME).toBe('failed');
    expect(recorded!.env.BORG_GATE_ALERT_LAST_SUCCESS).toBe('');
    expect(recorded!.env.BORG_GATE_ALERT_MESSAGE).toBe(
      'borg exit code 1:\\x1b[31m checksum mismatch',
    );
    expect(recorded!.stdin).toMatchObject({ kind: 'failure', check: 'repository_only' });
    expect(recorded!.envKeys).not.toContain('BORG_PASSPHRASE');
  });

  it('non-zero exit raises with output', async () => {
    const script = join(dir, 'fail.sh');
    await writeFile(script, '#!/bin/sh\necho "smtp refused" >&2\nexit 3\n', { mode: 0o755 });
    const attempt = sendAlert([script], alert);
    await expect(attempt).rejects.toBeInstanceOf(AlertCommandError);
    await expect(attempt).rejects.toThrow(/exit code 3: smtp refused/);
  });

  it('deploy example runs and contacts nothing', async () => {
    await expect(sendAlert([resolve('deploy/alert-example.sh')], alert)).resolves.toBeUndefined();
  });

  it('timeout kills the command', async () => {
    const script = join(dir, 'slow.sh');
    await writeFile(script, '#!/bin/sh\nsleep 30\n', { mode: 0o755 });
    const started = Date.now();
    await expect(sendAlert([script], alert, 300)).rejects.toThrow(/timed out after 0.3 s/);
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('background child does not block', async () => {
    const script = join(dir, 'daemon.sh');
    const pidFile = join(dir, 'daemon.pid');
    await writeFile(script, `#!/bin/sh\nsleep 30 &\necho $! > ${pidFile}\necho sent\n`, {
      mode: 0o755,
    });
    const started = Date.now();
    try {
      await expect(sendAlert([script], alert)).resolves.toBeUndefined();
      expect(Date.now() - started).toBeLessThan(5000);
    } finally {
      process.kill(Number(await readFile(pidFile, 'utf8')), 'SIGTERM');
    }
  });

  it('missing program raises', async () => {
    await expect(sendAlert([join(dir, 'absent')], alert)).rejects.toThrow(/cannot run/);
  });

  it('arguments are not shell-expanded', async () => {
    const script = join(dir, 'args.sh');
    const out = join(dir, 'args.txt');
    await writeFile(script, `#!/bin/sh\nprintf '%s\\n' "$@" > ${out}\n`, { mode: 0o755 });
    await sendAlert([script, '$HOME', '; touch /tmp/x'], alert);
    expect(await readFile(out, 'utf8')).toBe('$HOME\n; touch /tmp/x\n');
  });
});
