import { chmodSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { hashPolicyFile } from '../../../src/lib/authorized-keys/policy-hash.js';
import { policyMayListKey } from '../../../src/lib/authorized-keys/policy-scan.js';
import { sourceDigest } from '../../../src/lib/policy/cache.js';
import { closePolicyFile, openPolicyFile } from '../../../src/lib/policy/policy-file.js';

const KEY = 'AAAAC3NzaC1lZDI1NTE5AAAAIJZ3sQ1lk1FGy0vU7uJYkUtlN3kN5sMLb6JqvU8bZ3Xk';
const MIB = 1024 * 1024;
const dir = mkdtempSync(join(tmpdir(), 'borg-gate-scan-'));

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** Writes `text` to a new policy file and returns whether policyMayListKey finds KEY. */
function mayList(name: string, text: string, key = KEY): boolean {
  const file = join(dir, name);
  writeFileSync(file, text, { mode: 0o600 });
  const handle = openPolicyFile(file);
  try {
    return policyMayListKey(handle, key);
  } finally {
    closePolicyFile(handle);
  }
}

describe('policyMayListKey', () => {
  it.each([
    ['plain entry', `keys: ["ssh-ed25519 ${KEY} a"]\n`, true],
    ['absent key', 'keys: ["ssh-ed25519 AAAAC3Nza other"]\n', false],
    ['continuation', `keys: ["ssh-ed25519 ${KEY.slice(0, 30)}\\\n    ${KEY.slice(30)}"]\n`, true],
    ['escape sequence', `keys: ["ssh-ed25519 ${KEY.replace('I', '\\x49')}"]\n`, false],
  ])('%s', (name, text, expected) => {
    expect(mayList(`${name}.yaml`, text)).toBe(expected);
  });

  it.each([
    ['before the seam', MIB - KEY.length - 1],
    ['across the seam', MIB - 20],
    ['after the seam', MIB + 3],
    ['across the second seam', 2 * MIB - 1],
  ])('key %s', (name, offset) => {
    const padding = '#'.repeat(offset);
    expect(mayList(`${name}.yaml`, `${padding}${KEY}\n${'#'.repeat(MIB)}\n`)).toBe(true);
  });

  it('key split by a newline absent', () => {
    const text = `${'#'.repeat(MIB - 10)}${KEY.slice(0, 10)}\n${KEY.slice(10)}\n`;
    expect(mayList('split.yaml', text)).toBe(false);
  });
});

describe('hashPolicyFile', () => {
  it('matches the index writer', () => {
    const text = `version: 1\n${'# padding\n'.repeat(300_000)}`;
    const file = join(dir, 'hash.yaml');
    writeFileSync(file, text, { mode: 0o600 });
    const handle = openPolicyFile(file);
    try {
      expect(hashPolicyFile(handle)).toBe(sourceDigest(Buffer.from(text)));
    } finally {
      closePolicyFile(handle);
    }
  });

  it('hashes bytes that are not UTF-8', () => {
    const bytes = Buffer.from('version: 1\n# caf\xe9\n', 'latin1');
    const file = join(dir, 'latin1.yaml');
    writeFileSync(file, bytes, { mode: 0o600 });
    const handle = openPolicyFile(file);
    try {
      expect(hashPolicyFile(handle)).toBe(sourceDigest(bytes));
      expect(hashPolicyFile(handle)).not.toBe(sourceDigest(Buffer.from(bytes.toString('utf8'))));
    } finally {
      closePolicyFile(handle);
    }
  });
});

describe('openPolicyFile', () => {
  it('group-writable rejected', () => {
    const file = join(dir, 'writable.yaml');
    writeFileSync(file, 'version: 1\n');
    chmodSync(file, 0o664);
    expect(() => openPolicyFile(file)).toThrow(/chmod go-w/);
  });

  it('symlink rejected', () => {
    const file = join(dir, 'link.yaml');
    symlinkSync(join(dir, 'writable.yaml'), file);
    expect(() => openPolicyFile(file)).toThrow(/symbolic link/);
  });

  it('directory rejected', () => {
    expect(() => openPolicyFile(dir)).toThrow(/not a regular file/);
  });
});
