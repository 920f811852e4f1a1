import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import lockfile from 'proper-lockfile';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { EXIT_CANNOT_RUN, runCheckCommand } from '../../src/commands/check.js';
import { readCheckState } from '../../src/lib/check/state.js';
import {
  captureStderr,
  copyRepository,
  createRepository,
  makeTempDir,
  removeTempDir,
  writeCheckPolicy,
} from '../lib/check/borg-fixtures.js';

let dir: string;
let template: string;

beforeAll(async () => {
  dir = await makeTempDir('check-command');
  template = await createRepository(dir, 'template');
});

afterAll(async () => {
  await removeTempDir(dir);
});

/** Makes a directory with its own policy and a copy of the template repository. */
async function setUp(name: string, checks: Record<string, unknown> = {}) {
  const sub = join(dir, name);
  await mkdir(sub);
  const repository = await copyRepository(template, join(sub, 'repo'));
  const policy = await writeCheckPolicy(sub, { defaults: { lock_wait: 1 }, ...checks }, [
    repository,
  ]);
  return { sub, repository, policy };
}

function terminal() {
  const chunks: string[] = [];
  return {
    stream: { isTTY: true, columns: 200, write: (text: string) => chunks.push(text) > 0 },
    text: () => chunks.join(''),
  };
}

describe('runCheckCommand', () => {
  it('terminal shows progress and summary', async () => {
    const { repository, policy } = await setUp('tty');
    const stderr = terminal();
    const code = await runCheckCommand(
      { policy },
      { now: () => new Date(), stderr: stderr.stream },
    );
    expect(code).toBe(0);
    expect(stderr.text()).toContain(`[1/1] ${repository} repository_only`);
    expect(stderr.text()).toContain('Checking segments');
    expect(stderr.text()).toMatch(/repository_only: ok in [0-9.]+ s\n/);
    expect(stderr.text()).toContain('1 checks run: 1 ok, 0 overdue');
  });

  it('unknown repository exits 2', async () => {
    const { policy } = await setUp('unknown');
    const stderr = captureStderr();
    const code = await runCheckCommand(
      { policy, repository: '/srv/elsewhere' },
      { now: () => new Date(), stderr: stderr.stream },
    );
    expect(code).toBe(EXIT_CANNOT_RUN);
    expect(stderr.text()).toContain('"/srv/elsewhere" is not in the policy');
  });

  it('missing policy exits 2', async () => {
    const stderr = captureStderr();
    const code = await runCheckCommand(
      { policy: join(dir, 'absent.yaml') },
      { now: () => new Date(), stderr: stderr.stream },
    );
    expect(code).toBe(EXIT_CANNOT_RUN);
    expect(stderr.text()).toContain('invalid policy');
  });

  it('borg 2 binary exits 2', async () => {
    const sub = join(dir, 'borg2');
    await mkdir(sub);
    const policy = join(sub, 'policy.yaml');
    const document = {
      version: 1,
      audit_log: join(sub, 'audit.log'),
      state_dir: join(sub, 'state'),
      borg: { binaries: { borg: { path: '/usr/bin/borg2', major: 2 } } },
      clients: [],
    };
    await writeFile(policy, stringify(document));
    const stderr = captureStderr();
    const code = await runCheckCommand(
      { policy },
      { now: () => new Date(), stderr: stderr.stream },
    );
    expect(code).toBe(EXIT_CANNOT_RUN);
    expect(stderr.text()).toContain('borg 2');
  });

  it('corrupt state file exits 2', async () => {
    const { sub, policy } = await setUp('bad-state');
    await mkdir(join(sub, 'state'));
    await writeFile(join(sub, 'state', 'check-state.json'), '{"version": 1');
    const stderr = captureStderr();
    const code = await runCheckCommand(
      { policy },
      { now: () => new Date(), stderr: stderr.stream },
    );
    expect(code).toBe(EXIT_CANNOT_RUN);
    expect(stderr.text()).toContain('not valid JSON');
  });

  it('concurrent run exits 2', async () => {
    const { sub, policy } = await setUp('concurrent');
    const stateFile = join(sub, 'state', 'check-state.json');
    await mkdir(join(sub, 'state'));
    const release = await lockfile.lock(stateFile, { realpath: false });
    try {
      const stderr = captureStderr();
      const code = await runCheckCommand(
        { policy },
        { now: () => new Date(), stderr: stderr.stream },
      );
      expect(code).toBe(EXIT_CANNOT_RUN);
      expect(stderr.text()).toContain('another borg-gate check is running');
    } finally {
      await release();
    }
  });

  it('--state overrides the policy', async () => {
    const { sub, repository, policy } = await setUp('state-option');
    const stateFile = join(sub, 'elsewhere', 'state.json');
    const stderr = captureStderr();
    await runCheckCommand(
      { policy, state: stateFile },
      { now: () => new Date(), stderr: stderr.stream },
    );
    const state = await readCheckState(stateFile);
    expect(state.repositories[repository]?.repository_only?.outcome).toBe('ok');
  });

  it('unwritable audit log still checks', async () => {
    const { sub, repository } = await setUp('no-audit');
    const policy = join(sub, 'policy-no-audit.yaml');
    const document = {
      version: 1,
      audit_log: join(sub, 'missing-dir', 'audit.log'),
      state_dir: join(sub, 'state'),
      checks: { defaults: { lock_wait: 1 } },
      clients: [{ id: 'c', keys: ['ssh-ed25519 AAAA c'], repositories: [repository] }],
    };
    await writeFile(policy, stringify(document));
    const stderr = captureStderr();
    const code = await runCheckCommand(
      { policy },
      { now: () => new Date(), stderr: stderr.stream },
    );
    expect(code).toBe(1);
    expect(stderr.text()).toContain('cannot open audit log');
    const state = await readCheckState(join(sub, 'state', 'check-state.json'));
    expect(state.repositories[repository]?.repository_only?.outcome).toBe('ok');
  });

  it('failing alert command exits 1', async () => {
    const script = join(dir, 'alert-fails.sh');
    await writeFile(script, '#!/bin/sh\necho "relay down" >&2\nexit 1\n', { mode: 0o755 });
    // A config file that is no borg config: borg check fails on it. A directory without one
    // would be skipped as not created yet.
    const broken = join(dir, 'alert-fails-broken');
    await mkdir(broken);
    await writeFile(join(broken, 'config'), 'not a borg repository\n');
    const { policy } = await setUp('alert-fails', {
      repositories: { [broken]: {} },
      defaults: { lock_wait: 1, alert_command: [script] },
    });
    const stderr = captureStderr();
    const code = await runCheckCommand(
      { policy },
      { now: () => new Date(), stderr: stderr.stream },
    );
    expect(code).toBe(1);
    expect(stderr.text()).toContain('failed with exit code 1: relay down');
  });
});
