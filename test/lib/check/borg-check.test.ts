import { writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type BorgCheckRequest,
  borgCheckArgv,
  borgCheckEnv,
  parseLogLine,
  runBorgCheck,
} from '../../../src/lib/check/borg-check.js';
import { preparePassphrase } from '../../../src/lib/check/passphrase.js';
import type { CheckKind } from '../../../src/lib/check/targets.js';
import {
  BORG,
  copyRepository,
  corruptChunkKeepingCrc,
  corruptSegmentByte,
  createRepository,
  holdLock,
  makeTempDir,
  PASSPHRASE,
  removeTempDir,
  stopProcess,
} from './borg-fixtures.js';

let dir: string;
let template: string;

beforeAll(async () => {
  dir = await makeTempDir('borg-check');
  template = await createRepository(dir, 'template');
});

/** Returns a fresh copy of the template repository. */
function fresh(name: string): Promise<string> {
  return copyRepository(template, join(dir, name));
}

afterAll(async () => {
  await removeTempDir(dir);
});

function request(repository: string, kind: CheckKind, extra: Partial<BorgCheckRequest> = {}) {
  return {
    borgBinary: BORG,
    repository,
    kind,
    lockWaitSeconds: 1,
    timeoutMs: 60_000,
    baseDir: join(dir, 'gate-borg', basename(repository)),
    passphrase:
      kind === 'verify_data'
        ? { env: { BORG_PASSPHRASE_FD: '3' }, pipeText: `${PASSPHRASE}\n` }
        : { env: {}, pipeText: undefined },
    unencrypted: false,
    onProgress: undefined,
    ...extra,
  } satisfies BorgCheckRequest;
}

describe('borgCheckArgv', () => {
  it('repository-only argv', () => {
    expect(borgCheckArgv(request('/srv/r', 'repository_only'))).toEqual([
      '--log-json',
      '--lock-wait',
      '1',
      'check',
      '--repository-only',
      '--',
      '/srv/r',
    ]);
  });

  it('verify-data argv with progress', () => {
    const argv = borgCheckArgv(request('/srv/r', 'verify_data', { onProgress: () => {} }));
    expect(argv).toContain('--progress');
    expect(argv).toContain('--verify-data');
    expect(argv).not.toContain('--repository-only');
  });
});

describe('borgCheckEnv', () => {
  it('inherits nothing from the caller', () => {
    process.env.BORG_PASSPHRASE = 'leaked';
    process.env.BORG_REPO = '/elsewhere';
    try {
      const env = borgCheckEnv(request('/srv/r', 'repository_only'));
      expect(Object.keys(env).sort()).toEqual([
        'BORG_BASE_DIR',
        'BORG_CHECK_I_KNOW_WHAT_I_AM_DOING',
        'BORG_RELOCATED_REPO_ACCESS_IS_OK',
        'BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK',
        'HOME',
        'LANG',
        'PATH',
      ]);
    } finally {
      delete process.env.BORG_PASSPHRASE;
      delete process.env.BORG_REPO;
    }
  });

  it('passphrase file never in env', () => {
    const env = borgCheckEnv(request('/srv/r', 'verify_data'));
    expect(Object.values(env)).not.toContain(`${PASSPHRASE}\n`);
    expect(env.BORG_PASSPHRASE_FD).toBe('3');
  });
});

describe('parseLogLine', () => {
  it.each([
    [
      '{"type": "log_message", "levelname": "ERROR", "message": "Failed (timeout).", "msgid": "LockTimeout"}',
      { message: 'Failed (timeout).', msgid: 'LockTimeout' },
    ],
    [
      '{"type": "progress_percent", "message": "Checking segments 11.1%"}',
      { progress: 'Checking segments 11.1%' },
    ],
    ['{"type": "progress_percent", "finished": true}', { progress: '' }],
    ['{"type": "log_message", "levelname": "INFO", "message": "Starting"}', {}],
    ['Traceback (most recent call last):', { message: 'Traceback (most recent call last):' }],
    ['42', { message: '42' }],
  ])('line %s', (line, expected) => {
    expect(parseLogLine(line)).toEqual(expected);
  });
});

describe('runBorgCheck with real repositories', () => {
  it('healthy repository passes both kinds', async () => {
    const repository = await fresh('healthy');
    const quick = await runBorgCheck(request(repository, 'repository_only'));
    expect(quick.outcome).toBe('ok');
    expect(quick.exitCode).toBe(0);
    const full = await runBorgCheck(request(repository, 'verify_data'));
    expect(full.message).toBe('');
    expect(full.outcome).toBe('ok');
  });

  it('progress lines reach the callback', async () => {
    const repository = await fresh('progress');
    const lines: string[] = [];
    const result = await runBorgCheck(
      request(repository, 'repository_only', { onProgress: (text) => lines.push(text) }),
    );
    expect(result.outcome).toBe('ok');
    expect(lines.some((line) => line.startsWith('Checking segments'))).toBe(true);
  });

  it('flipped segment byte fails repository-only', async () => {
    const repository = await fresh('bad-segment');
    await corruptSegmentByte(repository);
    const result = await runBorgCheck(request(repository, 'repository_only'));
    expect(result.outcome).toBe('failed');
    expect(result.exitCode).not.toBe(0);
    expect(result.message).toMatch(/checksum mismatch/);
  });

  it('bad chunk with valid CRC fails only verify-data', async () => {
    const repository = await fresh('bad-chunk');
    await corruptChunkKeepingCrc(repository);
    const quick = await runBorgCheck(request(repository, 'repository_only'));
    expect(quick.outcome).toBe('ok');
    const full = await runBorgCheck(request(repository, 'verify_data'));
    expect(full.outcome).toBe('failed');
    expect(full.exitCode).not.toBe(0);
    expect(full.message).toMatch(/integrity error/);
  });

  it('wrong passphrase fails verify-data', async () => {
    const repository = await fresh('wrong-pass');
    const result = await runBorgCheck(
      request(repository, 'verify_data', {
        passphrase: { env: { BORG_PASSPHRASE_FD: '3' }, pipeText: 'not the passphrase\n' },
      }),
    );
    expect(result.outcome).toBe('failed');
    expect(result.message).toMatch(/passphrase/i);
  });

  it('passcommand with odd path works', async () => {
    const repository = await fresh('passcommand');
    const file = join(dir, "pass word's file");
    await writeFile(file, `${PASSPHRASE}\n`, { mode: 0o600 });
    const passphrase = await preparePassphrase({ type: 'command', argv: ['/bin/cat', file] });
    const result = await runBorgCheck(request(repository, 'verify_data', { passphrase }));
    expect(result.message).toBe('');
    expect(result.outcome).toBe('ok');
  });

  it('unencrypted repository needs no passphrase', async () => {
    const repository = await createRepository(dir, 'plain', 'none');
    const none = { env: {}, pipeText: undefined };
    const result = await runBorgCheck(
      request(repository, 'verify_data', { passphrase: none, unencrypted: true }),
    );
    expect(result.outcome).toBe('ok');
  });

  it('locked repository is skipped', async () => {
    const repository = await fresh('locked');
    const holder = await holdLock(dir, repository, 60);
    try {
      const result = await runBorgCheck(request(repository, 'repository_only'));
      expect(result.outcome).toBe('skipped');
      expect(result.message).toMatch(/locked/);
    } finally {
      await stopProcess(holder);
    }
  });

  it('timeout stops borg', async () => {
    const repository = await fresh('slow');
    const holder = await holdLock(dir, repository, 60);
    try {
      const result = await runBorgCheck(
        request(repository, 'repository_only', { lockWaitSeconds: 30, timeoutMs: 1500 }),
      );
      expect(result.outcome).toBe('timeout');
      expect(result.durationMs).toBeLessThan(15_000);
    } finally {
      await stopProcess(holder);
    }
  });

  it('missing borg binary fails', async () => {
    const result = await runBorgCheck(
      request('/nonexistent/repo', 'repository_only', { borgBinary: join(dir, 'no-borg') }),
    );
    expect(result.outcome).toBe('failed');
    expect(result.message).toMatch(/cannot run/);
  });
});
