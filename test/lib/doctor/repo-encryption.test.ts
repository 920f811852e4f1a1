import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  parseRepositoryConfig,
  type RepositoryConfig,
} from '../../../src/lib/doctor/repo-config.js';
import { detectEncryption } from '../../../src/lib/doctor/repo-encryption.js';
import { readRepository } from '../../../src/lib/doctor/repositories.js';
import { createFixture, type DoctorFixture, type InitEncryption, PASSPHRASE } from './fixtures.js';

let fixture: DoctorFixture;

/** Reads a repository and fails the test when doctor could not read it. */
function readableConfig(repository: string): RepositoryConfig {
  const info = readRepository(repository);
  if (!info.readable) {
    throw new Error(`${repository}: ${info.error}`);
  }
  return info.config;
}

beforeAll(() => {
  fixture = createFixture('encryption');
});

afterAll(() => fixture.remove());

describe('detectEncryption', () => {
  it.each<[InitEncryption, boolean]>([
    ['none', false],
    ['keyfile', false],
    ['repokey', true],
    ['repokey-blake2', true],
    ['keyfile-blake2', false],
    ['authenticated', true],
  ])('borg init -e %s', async (encryption, configHasKey) => {
    const repository = fixture.init(`init-${encryption}`, encryption);
    expect(detectEncryption(repository)).toBe(encryption);
    // The config alone cannot separate keyfile from none: neither stores a key there.
    expect(readableConfig(repository).key !== undefined).toBe(configHasKey);
  });

  it('after borg create and compact', async () => {
    const repository = fixture.init('used', 'none');
    const source = join(fixture.dir, 'source');
    mkdirSync(source);
    writeFileSync(join(source, 'file.txt'), 'data\n');
    const env = {
      PATH: '/usr/bin:/bin',
      HOME: fixture.dir,
      BORG_BASE_DIR: join(fixture.dir, 'client-borg'),
      BORG_PASSPHRASE: PASSPHRASE,
      BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK: 'yes',
    };
    for (const name of ['one', 'two']) {
      execFileSync('borg', ['create', `${repository}::${name}`, source], { env, stdio: 'pipe' });
    }
    execFileSync('borg', ['delete', `${repository}::one`], { env, stdio: 'pipe' });
    execFileSync('borg', ['compact', repository], { env, stdio: 'pipe' });
    expect(detectEncryption(repository)).toBe('none');
  });

  it('returns undefined without segments', async () => {
    const empty = join(fixture.dir, 'empty');
    mkdirSync(join(empty, 'data', '0'), { recursive: true });
    expect(detectEncryption(empty)).toBeUndefined();
  });

  it('returns undefined for a non-segment file', async () => {
    const fake = join(fixture.dir, 'fake');
    mkdirSync(join(fake, 'data', '0'), { recursive: true });
    writeFileSync(join(fake, 'data', '0', '1'), 'not a borg segment');
    expect(detectEncryption(fake)).toBeUndefined();
  });
});

describe('readRepository', () => {
  it('reports a missing repository', async () => {
    const info = readRepository(join(fixture.dir, 'absent'));
    expect(info.readable).toBe(false);
    expect((info as { error: string }).error).toContain('no config file');
  });

  it('reads append_only from borg init --append-only', async () => {
    const repository = fixture.init('append', 'repokey', { appendOnly: true });
    expect(readableConfig(repository).appendOnly).toBe(true);
  });

  it('parses the config borg wrote', async () => {
    const repository = fixture.init('parsed', 'repokey');
    const { readFileSync } = await import('node:fs');
    const config = parseRepositoryConfig(readFileSync(join(repository, 'config'), 'utf8'));
    expect(config?.id).toMatch(/^[0-9a-f]{64}$/);
    expect(config?.key).toMatch(/^[A-Za-z0-9+/=]+$/);
  });
});
