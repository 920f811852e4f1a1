import { mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { addKey, removeKey, rotateKey } from '../../../src/lib/authorized-keys/key-edits.js';
import { usesFlowPadding } from '../../../src/lib/authorized-keys/policy-edit.js';
import { parsePublicKey } from '../../../src/lib/authorized-keys/public-key.js';
import { readCachedPolicy } from '../../../src/lib/policy/cache.js';
import { loadPolicy } from '../../../src/lib/policy/load.js';
import { digestPolicyFile } from '../../../src/lib/policy/policy-digest.js';
import { makeKeys } from './fixtures.js';

const { dir, keys } = makeKeys(4);
const file = join(dir, 'policy.yaml');
const now = new Date('2026-06-01T00:00:00Z');
const day = 86_400_000;

const source = `version: 1
# Backup clients, one per host.
clients:
  - id: web1 # front end
    keys:
      - ${keys[0]} # laptop key
    repositories: [/srv/borg/web1]
  - id: db1
    keys:
      - key: ${keys[1]}
        expires: 2026-06-03
      - ${keys[2]}
`;

beforeEach(() => {
  writeFileSync(file, source, { mode: 0o640 });
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('addKey', () => {
  it('appends with added time', async () => {
    await addKey(file, 'web1', keys[3]!, now);
    const text = readFileSync(file, 'utf8');
    expect(text).toContain(`      - key: ${keys[3]}\n        added: 2026-06-01T00:00:00Z\n`);
    const { policy } = await loadPolicy(file);
    expect(policy.clients[0]!.keys).toHaveLength(2);
  });

  it('keeps comments and layout', async () => {
    await addKey(file, 'web1', keys[3]!, now);
    const text = readFileSync(file, 'utf8');
    expect(text).toContain('# Backup clients, one per host.\n');
    expect(text).toContain('  - id: web1 # front end\n');
    expect(text).toContain(`      - ${keys[0]} # laptop key\n`);
    expect(text).toContain('    repositories: [/srv/borg/web1]\n');
  });

  it('keeps padded flow lists', async () => {
    const padded = source
      .replace('[/srv/borg/web1]', '[ /srv/borg/web1 ]')
      .concat(`    repositories: [ /srv/borg/db1, /srv/borg/db2 ]\n`);
    writeFileSync(file, padded, { mode: 0o640 });
    await addKey(file, 'web1', keys[3]!, now);
    const text = readFileSync(file, 'utf8');
    expect(text).toContain('    repositories: [ /srv/borg/web1 ]\n');
    expect(text).toContain('    repositories: [ /srv/borg/db1, /srv/borg/db2 ]\n');
  });

  it('writes the cache of the new policy', async () => {
    const stateDir = join(dir, 'state');
    mkdirSync(stateDir, { recursive: true });
    writeFileSync(file, `state_dir: ${stateDir}\n${source}`, { mode: 0o640 });
    await addKey(file, 'web1', keys[3]!, now);
    const cached = readCachedPolicy(file, digestPolicyFile(file));
    expect(cached).toBeDefined();
    const web = Array.from(cached!.clients())[0]!;
    cached!.close();
    expect(web.keys).toHaveLength(2);
  });

  it('keeps file mode', async () => {
    await addKey(file, 'web1', keys[3]!, now);
    expect(statSync(file).mode & 0o777).toBe(0o640);
  });

  it('key of other client rejected', async () => {
    const fingerprint = parsePublicKey(keys[1]!).fingerprint;
    await expect(addKey(file, 'web1', keys[1]!, now)).rejects.toThrow(
      `key ${fingerprint} is already listed for client "db1"`,
    );
    await expect(addKey(file, 'web1', keys[1]!, now)).rejects.toThrow(
      `borg-gate keys remove --client db1 --fingerprint ${fingerprint}`,
    );
    expect(readFileSync(file, 'utf8')).toBe(source);
  });

  it('duplicate in same client rejected', async () => {
    await expect(addKey(file, 'web1', keys[0]!, now)).rejects.toThrow(
      /already listed for client "web1"/,
    );
  });

  it('invalid key rejected', async () => {
    await expect(addKey(file, 'web1', `command="sh" ${keys[3]}`, now)).rejects.toThrow(
      /new key for client "web1": authorized_keys options/,
    );
    expect(readFileSync(file, 'utf8')).toBe(source);
  });

  it('unknown client rejected', async () => {
    await expect(addKey(file, 'nope', keys[3]!, now)).rejects.toThrow(/client "nope" not found/);
  });
});

describe('removeKey', () => {
  it('removes by fingerprint', async () => {
    const fingerprint = parsePublicKey(keys[2]!).fingerprint;
    await removeKey(file, 'db1', fingerprint);
    const { policy } = await loadPolicy(file);
    expect(policy.clients[1]!.keys).toHaveLength(1);
    expect(readFileSync(file, 'utf8')).not.toContain(keys[2]!.split(' ')[1]);
  });

  it('last key kept', async () => {
    const fingerprint = parsePublicKey(keys[0]!).fingerprint;
    await expect(removeKey(file, 'web1', fingerprint)).rejects.toThrow(/only key of client "web1"/);
  });

  it('unknown fingerprint rejected', async () => {
    await expect(removeKey(file, 'db1', 'SHA256:nope')).rejects.toThrow(
      /no key with fingerprint "SHA256:nope"/,
    );
  });
});

describe('rotateKey', () => {
  it('adds key and expires old ones', async () => {
    const result = await rotateKey(file, 'db1', keys[3]!, 7 * day, now);
    expect(result.expires.toISOString()).toBe('2026-06-08T00:00:00.000Z');
    expect(result.retiring).toEqual([parsePublicKey(keys[2]!).fingerprint]);
    expect(result.expiringEarlier).toEqual([parsePublicKey(keys[1]!).fingerprint]);
    const { policy } = await loadPolicy(file);
    const [first, second, third] = policy.clients[1]!.keys as Array<{
      expires?: Date;
      added?: Date;
    }>;
    // The first key already expires earlier than the overlap, so it keeps its date.
    expect(first!.expires?.toISOString()).toBe('2026-06-03T00:00:00.000Z');
    expect(second!.expires?.toISOString()).toBe('2026-06-08T00:00:00.000Z');
    expect(third!.added?.toISOString()).toBe('2026-06-01T00:00:00.000Z');
    expect(third!.expires).toBeUndefined();
  });

  it('reports retiring fingerprints', async () => {
    const result = await rotateKey(file, 'db1', keys[3]!, day, now);
    expect(result.retiring).toEqual([
      parsePublicKey(keys[1]!).fingerprint,
      parsePublicKey(keys[2]!).fingerprint,
    ]);
  });

  it('key of other client rejected', async () => {
    await expect(rotateKey(file, 'web1', keys[2]!, 7 * day, now)).rejects.toThrow(
      'is already listed for client "db1"',
    );
    expect(readFileSync(file, 'utf8')).toBe(source);
  });

  it('other clients untouched', async () => {
    await rotateKey(file, 'db1', keys[3]!, day, now);
    expect(readFileSync(file, 'utf8')).toContain(`      - ${keys[0]} # laptop key\n`);
  });
});

describe('usesFlowPadding', () => {
  it.each([
    ['repositories: [ /a ]', true],
    ['repositories: [/a]', false],
    ['  - id: x\n    keys: [ "k" ]', true],
    ['# a comment: [ x ]\nrepositories: [/a]', false],
    ['settings: { a: 1 }', true],
    ['version: 1', false],
  ])('%j is %s', (text, expected) => {
    expect(usesFlowPadding(text)).toBe(expected);
  });
});
