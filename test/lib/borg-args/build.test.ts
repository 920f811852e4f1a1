import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildServeArgv, type ServeArgvOptions } from '../../../src/lib/borg-args/build.js';
import { ServeArgvError } from '../../../src/lib/borg-args/errors.js';
import type { ServeRequest } from '../../../src/lib/ssh-command/types.js';

const REQUEST: ServeRequest = {
  kind: 'borg-serve',
  program: 'borg',
  debugTopics: [],
  logJson: false,
};

function options(overrides: Partial<ServeArgvOptions> = {}): ServeArgvOptions {
  return {
    binary: '/usr/bin/borg',
    borgMajor: 1,
    request: REQUEST,
    mode: 'append-only',
    restrictToRepositories: ['/srv/borg/alpha'],
    restrictToPaths: [],
    ...overrides,
  };
}

describe('buildServeArgv modes', () => {
  it.each([
    [1, 'append-only', ['--append-only']],
    [1, 'read-only', ['--append-only']],
    [1, 'read-write', []],
    [2, 'append-only', ['--permissions=no-delete']],
    [2, 'read-only', ['--permissions=read-only']],
    [2, 'read-write', ['--permissions=all']],
  ] as const)('borg %i %s', (borgMajor, mode, modeArgs) => {
    const argv = buildServeArgv(options({ borgMajor, mode }));
    expect(argv.file).toBe('/usr/bin/borg');
    // borg 1.x never receives the client's negotiate, which would pick JSON log lines.
    const logging = borgMajor === 1 ? ['--log-json'] : [];
    const restriction = '--restrict-to-repository=/srv/borg/alpha';
    expect(argv.args).toEqual(['serve', ...logging, restriction, ...modeArgs]);
  });
});

describe('buildServeArgv arguments', () => {
  it('orders logging, restrictions, mode', () => {
    const request = { ...REQUEST, logLevel: 'debug' as const, debugTopics: ['repository'] };
    const argv = buildServeArgv(
      options({
        request,
        restrictToRepositories: ['/srv/a', '/srv/b'],
        restrictToPaths: ['/srv/shared'],
      }),
    );
    expect(argv.args).toEqual([
      'serve',
      '--debug',
      '--log-json',
      '--debug-topic=repository',
      '--restrict-to-repository=/srv/a',
      '--restrict-to-repository=/srv/b',
      '--restrict-to-path=/srv/shared',
      '--append-only',
    ]);
  });

  it('drops client umask, lock wait, json', () => {
    const request = { ...REQUEST, umask: '000', lockWait: 99, logJson: true };
    const args = buildServeArgv(options({ request, borgMajor: 2 })).args.join(' ');
    expect(args).not.toContain('umask');
    expect(args).not.toContain('lock-wait');
    expect(args).not.toContain('log-json');
  });

  it('gives borg 1.x --log-json once, whatever the client asked', () => {
    for (const logJson of [false, true]) {
      const args = buildServeArgv(options({ request: { ...REQUEST, logJson } })).args;
      expect(args.filter((arg) => arg === '--log-json')).toHaveLength(1);
    }
  });

  it('never copies the client program', () => {
    const request = { ...REQUEST, program: '/tmp/evil' };
    const argv = buildServeArgv(options({ request }));
    expect(argv.file).toBe('/usr/bin/borg');
    expect(argv.args.join(' ')).not.toContain('/tmp/evil');
  });
});

describe('buildServeArgv quota', () => {
  it.each([
    ['policy only', '50G', undefined, '--storage-quota=50G'],
    ['client only', undefined, '20G', '--storage-quota=20G'],
    ['client smaller', '50G', '20G', '--storage-quota=20G'],
    ['client larger', '50G', '1T', '--storage-quota=50G'],
    ['equal bytes keeps policy', '1000M', '1G', '--storage-quota=1000M'],
    ['fraction smaller', '1.5T', '1499G', '--storage-quota=1499G'],
    ['fraction larger', '1.5T', '1501G', '--storage-quota=1.5T'],
    ['plain bytes', '10000001', '10M', '--storage-quota=10M'],
    ['neither', undefined, undefined, undefined],
  ])('%s', (_name, policyQuota, clientQuota, expected) => {
    const request = { ...REQUEST, storageQuota: clientQuota };
    const args = buildServeArgv(options({ request, storageQuota: policyQuota })).args;
    const quotaArgs = args.filter((arg) => arg.startsWith('--storage-quota'));
    expect(quotaArgs).toEqual(expected === undefined ? [] : [expected]);
  });

  it('borg 2 drops client-only quota', () => {
    const request = { ...REQUEST, storageQuota: '20G' };
    const args = buildServeArgv(options({ borgMajor: 2, request })).args;
    expect(args.join(' ')).not.toContain('storage-quota');
  });

  it('borg 2 rejects policy quota', () => {
    expect(() => buildServeArgv(options({ borgMajor: 2, storageQuota: '50G' }))).toThrow(
      ServeArgvError,
    );
  });
});

describe('buildServeArgv input checks', () => {
  it.each([
    ['no restriction', { restrictToRepositories: [], restrictToPaths: [] }],
    ['relative repository', { restrictToRepositories: ['srv/a'] }],
    ['dotdot repository', { restrictToRepositories: ['/srv/../etc'] }],
    ['dot path', { restrictToPaths: ['/srv/./a'] }],
    ['empty segment', { restrictToPaths: ['/srv//a'] }],
    ['trailing slash', { restrictToRepositories: ['/srv/a/'] }],
    ['root only', { restrictToPaths: ['/'] }],
    ['newline in path', { restrictToRepositories: ['/srv/a\n--append-only'] }],
    ['non-ASCII path', { restrictToRepositories: ['/srv/\u202ea'] }],
    ['relative binary', { binary: 'borg' }],
    ['policy quota too small', { storageQuota: '5M' }],
    ['policy quota invalid', { storageQuota: '5 G' }],
    ['client quota invalid', { request: { ...REQUEST, storageQuota: '1e12' } }],
    ['bad log level', { request: { ...REQUEST, logLevel: 'trace' as never } }],
    ['bad debug topic', { request: { ...REQUEST, debugTopics: ['--append-only'] } }],
    ['borg 3', { borgMajor: 3 as never }],
    ['unknown mode', { mode: 'delete-only' as never }],
  ])('rejects %s', (_name, overrides: Partial<ServeArgvOptions>) => {
    expect(() => buildServeArgv(options(overrides))).toThrow(ServeArgvError);
  });
});

describe('buildServeArgv with real borg 1.2', () => {
  let home = '';

  beforeAll(async () => {
    home = await mkdtemp(join(tmpdir(), 'borg-args-'));
  });

  afterAll(async () => {
    await rm(home, { recursive: true, force: true });
  });

  /** Runs borg with stdin at EOF, so borg serve exits 0 unless argparse rejects an option. */
  function runBorg(args: string[]): Promise<{ code: number | null; stderr: string }> {
    const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home, BORG_BASE_DIR: home };
    const child = spawn('/usr/bin/borg', args, {
      env,
      cwd: home,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    return new Promise((resolve, reject) => {
      child.on('error', reject);
      child.on('close', (code) => resolve({ code, stderr }));
    });
  }

  it.each(['append-only', 'read-only', 'read-write'] as const)('accepts %s argv', async (mode) => {
    const request: ServeRequest = {
      ...REQUEST,
      logLevel: 'info',
      debugTopics: ['borg.debug.repository'],
      storageQuota: '20G',
    };
    const argv = buildServeArgv(
      options({
        mode,
        request,
        restrictToRepositories: [join(home, 'repo')],
        restrictToPaths: [join(home, 'area')],
        storageQuota: '10M',
      }),
    );
    const result = await runBorg(argv.args);
    expect(result.stderr).not.toContain('usage:');
    expect(result.code).toBe(0);
  });

  it('real borg rejects quota under 10M', async () => {
    const result = await runBorg(['serve', '--storage-quota=9999999']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('quota is too small');
  });
});
