import { chmodSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  formatIndex,
  hashPolicySource,
  readIndex,
  searchIndex,
} from '../../../src/lib/authorized-keys/lookup-index.js';

const command = { gatePath: '/usr/local/bin/borg-gate', policyFile: '/etc/borg-gate/policy.yaml' };
const hash = hashPolicySource('version: 1\n');
const entry = (base64: string, type = 'ssh-ed25519') => ({
  base64,
  line: `command="x",restrict ${type} ${base64} comment`,
});
const index = formatIndex(hash, command, [entry('AAAAfirst'), entry('AAAAsecond', 'ssh-rsa')]);
const dir = mkdtempSync(join(tmpdir(), 'borg-gate-index-'));

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('searchIndex', () => {
  it('finds entry', () => {
    expect(searchIndex(index, hash, command, 'ssh-rsa', 'AAAAsecond')).toBe(
      'command="x",restrict ssh-rsa AAAAsecond comment',
    );
  });

  it('unknown key is undefined', () => {
    expect(searchIndex(index, hash, command, 'ssh-ed25519', 'AAAAthird')).toBeUndefined();
  });

  it('prefix of a key is undefined', () => {
    expect(searchIndex(index, hash, command, 'ssh-ed25519', 'AAAAfir')).toBeUndefined();
  });

  it('other type is undefined', () => {
    expect(searchIndex(index, hash, command, 'ssh-rsa', 'AAAAfirst')).toBeUndefined();
  });

  it.each([
    ['policy changed', hashPolicySource('version: 1\n# edited\n'), command],
    ['gate path changed', hash, { ...command, gatePath: '/opt/borg-gate' }],
    ['policy path changed', hash, { ...command, policyFile: '/srv/policy.yaml' }],
  ])('%s is stale', (_name, policyHash, gate) => {
    expect(searchIndex(index, policyHash, gate, 'ssh-ed25519', 'AAAAfirst')).toBe('stale');
  });
});

describe('readIndex', () => {
  it('reads root-owned file', async () => {
    const file = join(dir, 'ok.index');
    writeFileSync(file, index, { mode: 0o644 });
    expect(await readIndex(file)).toBe(index);
  });

  it('group-writable rejected', async () => {
    const file = join(dir, 'writable.index');
    writeFileSync(file, index);
    chmodSync(file, 0o664);
    await expect(readIndex(file)).rejects.toThrow(/not writable by group or others/);
  });

  it('symlink rejected', async () => {
    const file = join(dir, 'link.index');
    symlinkSync(join(dir, 'ok.index'), file);
    await expect(readIndex(file)).rejects.toThrow(/cannot open lookup index/);
  });
});
