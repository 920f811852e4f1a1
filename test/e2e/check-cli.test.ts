// Scenario: the built `borg-gate check` binary prints nothing on a non-terminal when all
// is well. It reports failures on stderr with exit code 1 and rejects a bad policy with
// exit code 2. On SIGTERM it stops the borg it started and records the check as skipped.
import { execFile, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readCheckState } from '../../src/lib/check/state.js';
import {
  copyRepository,
  corruptSegmentByte,
  createRepository,
  holdLock,
  makeTempDir,
  removeTempDir,
  stopProcess,
  writeCheckPolicy,
} from '../lib/check/borg-fixtures.js';

const GATE = resolve('dist/borg-gate.js');
const run = promisify(execFile);

let dir: string;
let template: string;

beforeAll(async () => {
  dir = await makeTempDir('e2e-check-cli');
  template = await createRepository(dir, 'template');
});

afterAll(async () => {
  await removeTempDir(dir);
});

async function gate(args: string[]) {
  try {
    const { stdout, stderr } = await run(process.execPath, [GATE, 'check', ...args]);
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failure = error as { code: number; stdout: string; stderr: string };
    return { code: failure.code, stdout: failure.stdout, stderr: failure.stderr };
  }
}

/** Lists pids of `borg check` processes that name `repository`. */
function borgChecksOn(repository: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^[0-9]+$/.test(entry)) {
      continue;
    }
    try {
      const argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      if (argv.includes('check') && argv.includes(repository)) {
        pids.push(Number(entry));
      }
    } catch {
      // The process exited while we looked.
    }
  }
  return pids;
}

describe('borg-gate check binary', () => {
  it('healthy run is silent', async () => {
    const repository = await copyRepository(template, join(dir, 'healthy'));
    const sub = join(dir, 'healthy-run');
    await mkdir(sub);
    const policy = await writeCheckPolicy(sub, { defaults: { lock_wait: 1 } }, [repository]);
    const result = await gate(['--policy', policy]);
    expect(result.stderr).toBe('');
    expect(result.stdout).toBe('');
    expect(result.code).toBe(0);
  });

  it('failure goes to stderr with exit 1', async () => {
    const repository = await copyRepository(template, join(dir, 'broken'));
    await corruptSegmentByte(repository);
    const sub = join(dir, 'broken-run');
    await mkdir(sub);
    const policy = await writeCheckPolicy(sub, { defaults: { lock_wait: 1 } }, [repository]);
    const result = await gate(['--policy', policy]);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain(`borg-gate check: ${repository} repository_only: failed`);
  });

  it('invalid policy exits 2', async () => {
    const policy = join(dir, 'bad-policy.yaml');
    await writeFile(
      policy,
      'version: 1\nchecks:\n  defaults:\n    timeout: forever\nclients: []\n',
    );
    const result = await gate(['--policy', policy]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('checks.defaults.timeout');
  });

  it('unknown repository exits 2', async () => {
    const sub = join(dir, 'unknown-run');
    await mkdir(sub);
    const policy = await writeCheckPolicy(sub, {}, []);
    const result = await gate(['--policy', policy, '--repository', '/srv/not-listed']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('is not in the policy');
  });

  it('repository not created yet is skipped', async () => {
    const sub = join(dir, 'new-client-run');
    await mkdir(sub);
    const repository = join(sub, 'not-yet');
    await mkdir(repository);
    const policy = await writeCheckPolicy(sub, {}, [repository]);
    const state = join(sub, 'state.json');
    const result = await gate(['--policy', policy, '--state', state]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const record = (await readCheckState(state)).repositories[repository]?.repository_only;
    expect(record?.outcome).toBe('skipped');
    expect(record?.message).toContain('no client has run borg init');
  });

  it('missing state parent exits 2', async () => {
    const sub = join(dir, 'state-run');
    await mkdir(sub);
    const policy = await writeCheckPolicy(sub, {}, []);
    const missing = join(sub, 'no-such-dir', 'state');
    const result = await gate(['--policy', policy, '--state', join(missing, 'check.json')]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`the parent of ${missing} does not exist`);
    expect(existsSync(join(sub, 'no-such-dir'))).toBe(false);
  });

  it('SIGTERM stops borg and exits 143', async () => {
    const repository = await copyRepository(template, join(dir, 'busy'));
    const sub = join(dir, 'busy-run');
    await mkdir(sub);
    const policy = await writeCheckPolicy(sub, { defaults: { lock_wait: 60 } }, [repository]);
    const holder = await holdLock(dir, repository, 120);
    try {
      const child = spawn(process.execPath, [GATE, 'check', '--policy', policy], {
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let stderr = '';
      child.stderr.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
      });
      const deadline = Date.now() + 20_000;
      while (borgChecksOn(repository).length === 0 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(borgChecksOn(repository)).toHaveLength(1);
      const closed = new Promise<number | null>((resolve) => child.once('close', resolve));
      child.kill('SIGTERM');
      expect(await closed).toBe(143);
      expect(stderr).toContain('SIGTERM received');
      expect(borgChecksOn(repository)).toEqual([]);
      const state = await readCheckState(join(sub, 'state', 'check-state.json'));
      expect(state.repositories[repository]?.repository_only?.outcome).toBe('skipped');
      expect(state.repositories[repository]?.repository_only?.retry).toBe(true);
    } finally {
      await stopProcess(holder);
    }
  });
});
