import { chmodSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  closeIndex,
  formatIndex,
  type IndexEntry,
  openIndex,
  searchIndex,
} from '../../../src/lib/authorized-keys/lookup-index.js';
import { sourceDigest } from '../../../src/lib/policy/cache.js';

const command = { gatePath: '/usr/local/bin/borg-gate', policyFile: '/etc/borg-gate/policy.yaml' };
const hash = sourceDigest(Buffer.from('version: 1\n'));
const entry = (base64: string, type = 'ssh-ed25519') => ({
  base64,
  line: `command="x",restrict ${type} ${base64} comment`,
});
const dir = mkdtempSync(join(tmpdir(), 'borg-gate-index-'));
const indexFile = join(dir, 'lookup.index');
writeFileSync(
  indexFile,
  formatIndex(hash, command, [entry('AAAAsecond', 'ssh-rsa'), entry('AAAAfirst')]),
  { mode: 0o644 },
);

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** Opens `file`, searches it for one key and closes it again. */
function search(
  file: string,
  keyType: string,
  keyBase64: string,
  policyHash = hash,
  gate = command,
): string | undefined | 'stale' {
  const index = openIndex(file);
  try {
    const match = searchIndex(index, gate, keyType, keyBase64);
    // The caller's part: a match counts only for the policy hash the index records.
    if (match === 'stale' || match.policyHash !== policyHash) {
      return 'stale';
    }
    return match.entry;
  } finally {
    closeIndex(index);
  }
}

describe('searchIndex', () => {
  it('finds entry', () => {
    expect(search(indexFile, 'ssh-rsa', 'AAAAsecond')).toBe(
      'command="x",restrict ssh-rsa AAAAsecond comment',
    );
  });

  it('unknown key is undefined', () => {
    expect(search(indexFile, 'ssh-ed25519', 'AAAAthird')).toBeUndefined();
  });

  it('prefix of a key is undefined', () => {
    expect(search(indexFile, 'ssh-ed25519', 'AAAAfir')).toBeUndefined();
  });

  it('other type is undefined', () => {
    expect(search(indexFile, 'ssh-rsa', 'AAAAfirst')).toBeUndefined();
  });

  it.each([
    ['policy changed', sourceDigest(Buffer.from('version: 1\n# edited\n')), command],
    ['gate path changed', hash, { ...command, gatePath: '/opt/borg-gate' }],
    ['policy path changed', hash, { ...command, policyFile: '/srv/policy.yaml' }],
  ])('%s is stale', (_name, policyHash, gate) => {
    expect(search(indexFile, 'ssh-ed25519', 'AAAAfirst', policyHash, gate)).toBe('stale');
  });

  it('returns the recorded stamp', () => {
    const stamped = join(dir, 'stamped.index');
    const stamp = ['1', '2', '3', '4', '5'].map((digit) => digit.padStart(16, '0')).join(' ');
    writeFileSync(stamped, formatIndex(hash, command, [entry('AAAAfirst')], stamp), {
      mode: 0o644,
    });
    const index = openIndex(stamped);
    try {
      expect(searchIndex(index, command, 'ssh-ed25519', 'AAAAfirst')).toMatchObject({
        policyHash: hash,
        policyStamp: stamp,
      });
    } finally {
      closeIndex(index);
    }
    const index2 = openIndex(indexFile);
    try {
      expect(searchIndex(index2, command, 'ssh-ed25519', 'AAAAfirst')).toMatchObject({
        policyStamp: undefined,
      });
    } finally {
      closeIndex(index2);
    }
  });

  it('empty index finds nothing', () => {
    const file = join(dir, 'empty.index');
    writeFileSync(file, formatIndex(hash, command, []), { mode: 0o644 });
    expect(search(file, 'ssh-ed25519', 'AAAAfirst')).toBeUndefined();
  });

  it('truncated header is stale', () => {
    const file = join(dir, 'truncated.index');
    writeFileSync(file, formatIndex(hash, command, []).slice(0, 40), { mode: 0o644 });
    expect(search(file, 'ssh-ed25519', 'AAAAfirst')).toBe('stale');
  });
});

describe('searchIndex over many entries', () => {
  // Keys of varying length, some prefixes of others, and lines longer than one read window.
  const keys = Array.from({ length: 3000 }, (_, at) => `AAAA${(at * 7919).toString(36)}`);
  const entries: IndexEntry[] = keys.map((base64, at) => ({
    base64,
    line: `restrict ssh-ed25519 ${base64} ${at % 500 === 0 ? 'c'.repeat(20_000) : `host${at}`}`,
  }));
  const file = join(dir, 'many.index');
  writeFileSync(file, formatIndex(hash, command, entries), { mode: 0o644 });

  it('finds every entry', () => {
    for (const [at, base64] of keys.entries()) {
      expect(search(file, 'ssh-ed25519', base64)).toBe(entries[at]!.line);
    }
  });

  it.each(['AAAA', 'AAAA00', 'AAAAzzzzzz', '+AAA', 'zzzz'])('absent %s is undefined', (key) => {
    expect(search(file, 'ssh-ed25519', key)).toBeUndefined();
  });
});

describe('openIndex', () => {
  it('opens root-owned file', () => {
    expect(search(indexFile, 'ssh-ed25519', 'AAAAfirst')).toMatch(/AAAAfirst/);
  });

  it('group-writable rejected', () => {
    const file = join(dir, 'writable.index');
    writeFileSync(file, formatIndex(hash, command, []));
    chmodSync(file, 0o664);
    expect(() => openIndex(file)).toThrow(/not writable by group or others/);
  });

  it('symlink rejected', () => {
    const file = join(dir, 'link.index');
    symlinkSync(indexFile, file);
    expect(() => openIndex(file)).toThrow(/cannot open lookup index .*: it is a symbolic link/);
  });
});
