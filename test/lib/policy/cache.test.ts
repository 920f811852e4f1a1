import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  chownSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  cacheFileFor,
  DEFAULT_STATE_DIR,
  hasCurrentCache,
  readCachedClient,
  readCachedPolicy,
  sourceDigest,
  stateDirHint,
  writePolicyCache,
} from '../../../src/lib/policy/cache.js';
import { loadPolicy, loadPolicyClients, parsePolicy } from '../../../src/lib/policy/load.js';
import { loadPolicyForClient } from '../../../src/lib/policy/load-client.js';
import { digestOfBytes, digestPolicyFile } from '../../../src/lib/policy/policy-digest.js';
import { readPolicySource } from '../../../src/lib/policy/source.js';
import { randomPublicKey } from '../authorized-keys/fixtures.js';

const KEY_A =
  'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJZ3sQ1lk1FGy0vU7uJYkUtlN3kN5sMLb6JqvU8bZ3Xk a@test';
const KEY_B =
  'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIH0Q9mD3dC4KqOeUeZMuy7Zc5H6Vw5J1h8cuHq2vNfPb b@test';

let dir: string;
let stateDir: string;
let policyFile: string;

function policyText(options: { webDisabled?: boolean; top?: string } = {}): string {
  return [
    'version: 1',
    `state_dir: ${stateDir}`,
    options.top ?? '',
    'clients:',
    '  - id: web01',
    `    keys: [{key: "${KEY_A}", expires: 2030-01-01, added: 2026-01-01}]`,
    '    repositories: [{path: /srv/borg/web01, name: main}]',
    '    expires: 2031-06-01T12:00:00Z',
    '    from: [192.0.2.0/24]',
    `    disabled: ${options.webDisabled === true}`,
    '  - id: db01',
    `    keys: ["${KEY_B}"]`,
    '    paths: [/srv/borg/db01]',
    '    mode: read-only',
    '',
  ].join('\n');
}

function writePolicy(text: string): void {
  writeFileSync(policyFile, text, { mode: 0o600 });
}

function cacheFile(): string {
  return cacheFileFor(stateDir, policyFile);
}

beforeEach(() => {
  dir = mkdtempSync('/tmp/borg-gate-cache-');
  stateDir = join(dir, 'state');
  mkdirSync(stateDir);
  policyFile = join(dir, 'policy.yaml');
  writePolicy(policyText());
});

afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('loadPolicyForClient', () => {
  it('misses, writes the cache, then hits', async () => {
    const first = await loadPolicyForClient(policyFile, 'web01');
    expect(first.cache).toBe('miss');
    expect(existsSync(cacheFile())).toBe(true);
    const second = await loadPolicyForClient(policyFile, 'web01');
    expect(second.cache).toBe('hit');
    expect(second.policy).toEqual(first.policy);
  });

  it('hit equals the validated policy', async () => {
    await loadPolicyForClient(policyFile, 'web01');
    const full = parsePolicy(policyFile, policyText());
    const hit = await loadPolicyForClient(policyFile, 'web01');
    expect(hit.cache).toBe('hit');
    expect(hit.policy).toEqual({ ...full, clients: [full.clients[0]] });
    const client = hit.policy.clients[0]!;
    expect(client.expires).toBeInstanceOf(Date);
    expect(client.expires?.toISOString()).toBe('2031-06-01T12:00:00.000Z');
    const key = client.keys[0];
    expect(typeof key === 'string' ? undefined : key?.expires).toBeInstanceOf(Date);
  });

  it('narrows to the connecting client', async () => {
    await loadPolicyForClient(policyFile, 'web01');
    const hit = await loadPolicyForClient(policyFile, 'db01');
    expect(hit.cache).toBe('hit');
    expect(hit.policy.clients.map((client) => client.id)).toEqual(['db01']);
  });

  it('unknown client on a hit', async () => {
    await loadPolicyForClient(policyFile, 'web01');
    const hit = await loadPolicyForClient(policyFile, 'nobody');
    expect(hit.cache).toBe('hit');
    expect(hit.policy.clients).toEqual([]);
  });

  it('policy edit takes effect at once', async () => {
    await loadPolicyForClient(policyFile, 'web01');
    writePolicy(policyText({ webDisabled: true }));
    const next = await loadPolicyForClient(policyFile, 'web01');
    expect(next.cache).toBe('miss');
    expect(next.policy.clients[0]!.disabled).toBe(true);
    const after = await loadPolicyForClient(policyFile, 'web01');
    expect(after.cache).toBe('hit');
    expect(after.policy.clients[0]!.disabled).toBe(true);
  });

  it('stale cache ignored', async () => {
    await loadPolicyForClient(policyFile, 'web01');
    const stale = join(dir, 'stale-cache');
    copyFileSync(cacheFile(), stale);
    writePolicy(policyText({ webDisabled: true }));
    // The cache of the old bytes comes back, e.g. restored from a backup.
    copyFileSync(stale, cacheFile());
    const next = await loadPolicyForClient(policyFile, 'web01');
    expect(next.cache).toBe('miss');
    expect(next.policy.clients[0]!.disabled).toBe(true);
  });

  it('invalid policy fails with a cache present', async () => {
    await loadPolicyForClient(policyFile, 'web01');
    writePolicy(`${policyText()}  - id: web01\n    keys: ["${KEY_B}"]\n`);
    await expect(loadPolicyForClient(policyFile, 'web01')).rejects.toThrow(/already used/);
  });

  it('group-writable policy fails with a cache present', async () => {
    await loadPolicyForClient(policyFile, 'web01');
    chmodSync(policyFile, 0o620);
    await expect(loadPolicyForClient(policyFile, 'web01')).rejects.toThrow(/chmod go-w/);
  });

  it.each([
    ['group-writable cache', () => chmodSync(cacheFile(), 0o620)],
    ['cache of another owner', () => chownSync(cacheFile(), 65534, 65534)],
    ['truncated cache', () => truncateCache(100)],
    ['cache cut after a line', () => truncateCache(-1)],
    ['cache of another build', () => rewriteHeader((header) => ({ ...header, build: 'x' }))],
    [
      'cache of another policy file',
      () => rewriteHeader((header) => ({ ...header, policy_file: '/etc/other.yaml' })),
    ],
    [
      'cache with a forged hash',
      () => rewriteHeader((header) => ({ ...header, source_sha256: '0'.repeat(64) })),
    ],
    ['cache that is not JSON', () => writeFileSync(cacheFile(), 'not json\n{}\n')],
    ['cache replaced by a symlink', () => replaceBySymlink()],
    ['cache replaced by a FIFO', () => replaceByFifo()],
    ['cache of format 1', () => rewriteHeader((header) => ({ ...header, version: 1 }))],
    ['cache of format 2', () => rewriteHeader((header) => ({ ...header, version: 2 }))],
    [
      'cache with a forged index hash',
      () => rewriteHeader((header) => ({ ...header, index_sha256: '0'.repeat(64) })),
    ],
    [
      'cache without a bucket count',
      () => rewriteHeader(({ bucket_count: _count, ...header }) => header),
    ],
    [
      'cache cut in the index',
      () => editParts((parts) => ({ ...parts, index: parts.index.slice(0, 50) })),
    ],
    [
      'cache with bytes appended',
      () => editParts((parts) => ({ ...parts, body: `${parts.body}{}\n` })),
    ],
    ['cache with swapped index lines', () => editParts(swapIndexLines)],
    ['cache with an index line moved', () => editParts(moveFirstBucket)],
  ])('%s ignored', async (_name, damage) => {
    await loadPolicyForClient(policyFile, 'web01');
    damage();
    const next = await loadPolicyForClient(policyFile, 'web01');
    expect(next.cache).toBe('miss');
    expect(next.policy.clients[0]!.id).toBe('web01');
  });

  it.each([
    ['line of another client', 'web01', () => editParts(replaceWebLineByDbLine)],
    ['line with an edited path', 'db01', () => editParts(editDbPath)],
  ])('client %s ignored', async (_name, clientId, damage) => {
    await loadPolicyForClient(policyFile, clientId);
    damage();
    const next = await loadPolicyForClient(policyFile, clientId);
    expect(next.cache).toBe('miss');
    expect(next.policy).toEqual(await fullPolicyFor(clientId));
  });

  it('forged index never yields another client', async () => {
    await loadPolicyForClient(policyFile, 'web01');
    // Even with the index hash recomputed, a bucket contains no line for a client of another bucket.
    editParts((parts) => {
      const moved = moveFirstBucket(parts);
      const index_sha256 = createHash('sha256').update(moved.index).digest('hex');
      return { ...moved, header: { ...moved.header, index_sha256 } };
    });
    for (const clientId of ['web01', 'db01']) {
      const next = await loadPolicyForClient(policyFile, clientId);
      expect(next.policy.clients.map((client) => client.id)).not.toContain(
        clientId === 'web01' ? 'db01' : 'web01',
      );
    }
  });

  it('cache mode follows the policy mode', async () => {
    chmodSync(policyFile, 0o640);
    await loadPolicyForClient(policyFile, 'web01');
    expect(statSync(cacheFile()).mode & 0o777).toBe(0o640);
  });

  it('no cache without state_dir', async () => {
    rmSync(stateDir, { recursive: true });
    const first = await loadPolicyForClient(policyFile, 'web01');
    expect(first.cache).toBe('miss');
    expect(existsSync(stateDir)).toBe(false);
  });
});

describe('cache of many clients', () => {
  const COUNT = 400;
  const ids = Array.from({ length: COUNT }, (_, index) => `c${String(index).padStart(4, '0')}`);

  beforeEach(() => {
    const clients = ids.flatMap((id) => [
      `  - id: ${id}`,
      `    keys: ["${randomPublicKey()}"]`,
      `    repositories: [{path: /srv/borg/${id}, name: main}]`,
    ]);
    writePolicy(`version: 1\nstate_dir: ${stateDir}\nclients:\n${clients.join('\n')}\n`);
  });

  it('every client hits and equals the full parse', async () => {
    await loadPolicy(policyFile);
    // The body is larger than the first read, so later buckets come from separate reads.
    expect(statSync(cacheFile()).size).toBeGreaterThan(64 * 1024);
    const full = parsePolicy(policyFile, readFileSync(policyFile, 'utf8'));
    for (const [index, id] of ids.entries()) {
      const hit = await loadPolicyForClient(policyFile, id);
      expect(hit.cache).toBe('hit');
      expect(hit.policy.clients).toEqual([full.clients[index]]);
    }
  });

  it('damaged bucket makes the cache stale', async () => {
    await loadPolicy(policyFile);
    const source = await readPolicySource(policyFile);
    const digest = sourceDigest(source.bytes);
    expect(hasCurrentCache(policyFile, source, digest)).toBe(true);
    editParts((parts) => ({
      ...parts,
      body: parts.body.replace('/srv/borg/c0007', '/srv/borg/x0007'),
    }));
    expect(
      readCachedClient(policyFile, digestOfBytes(source.bytes, source.uid, digest), 'c0007'),
    ).toBeUndefined();
    // Admin commands read every bucket, so they rewrite the cache that serve ignores.
    expect(hasCurrentCache(policyFile, source, digest)).toBe(false);
    await loadPolicy(policyFile);
    expect(hasCurrentCache(policyFile, source, digest)).toBe(true);
    expect(
      readCachedClient(policyFile, digestOfBytes(source.bytes, source.uid, digest), 'c0007')?.client
        ?.id,
    ).toBe('c0007');
  });

  it('whole cache yields clients in policy order', async () => {
    await loadPolicy(policyFile);
    const full = parsePolicy(policyFile, readFileSync(policyFile, 'utf8'));
    const cached = readCachedPolicy(policyFile, digestPolicyFile(policyFile));
    expect(cached).toBeDefined();
    expect(cached!.clientCount).toBe(COUNT);
    expect(Array.from(cached!.clients())).toEqual(full.clients);
    // A second pass starts from the first client again.
    expect(Array.from(cached!.clients()).map((client) => client.id)).toEqual(ids);
    cached!.close();
  });

  it('edited order part is a miss', async () => {
    await loadPolicy(policyFile);
    editParts((parts) => ({ ...parts, body: swapLastOrderEntries(parts.body) }));
    expect(readCachedPolicy(policyFile, digestPolicyFile(policyFile))).toBeUndefined();
  });

  it('order with a rehashed wrong count is a miss', async () => {
    await loadPolicy(policyFile);
    editParts((parts) => {
      // Every client in bucket 0: the hash matches, but the buckets' line counts do not.
      const orderStart = parts.body.length - COUNT * 8;
      const order = '0'.repeat(COUNT * 8);
      const header = { ...parts.header, order_sha256: sha256(order) };
      return { ...parts, header, body: parts.body.slice(0, orderStart) + order };
    });
    expect(readCachedPolicy(policyFile, digestPolicyFile(policyFile))).toBeUndefined();
  });
});

describe('cache and gate directories', () => {
  it('symlink change of the audit log directory misses', async () => {
    mkdirSync(join(dir, 'log1'));
    mkdirSync(join(dir, 'log2'));
    symlinkSync(join(dir, 'log1'), join(dir, 'log'));
    writePolicy(policyText({ top: `audit_log: ${dir}/log/audit.log` }));
    await loadPolicy(policyFile);
    const digest = digestPolicyFile(policyFile);
    expect(readCachedClient(policyFile, digest, 'web01')?.client?.id).toBe('web01');
    rmSync(join(dir, 'log'));
    symlinkSync(join(dir, 'log2'), join(dir, 'log'));
    expect(readCachedClient(policyFile, digest, 'web01')).toBeUndefined();
    expect(readCachedPolicy(policyFile, digest)).toBeUndefined();
  });
});

describe('loadPolicyClients', () => {
  it('cache hit equals the text load', async () => {
    const fromText = await loadPolicyClients(policyFile);
    expect(existsSync(cacheFile())).toBe(true);
    const fromCache = await loadPolicyClients(policyFile);
    expect(fromCache.settings).toEqual(fromText.settings);
    expect(Array.from(fromCache.clients)).toEqual(Array.from(fromText.clients));
    expect(fromCache.clientCount).toBe(2);
    expect(fromCache.sourceSha256).toBe(fromText.sourceSha256);
    fromCache.close();
    fromText.close();
  });

  it('client line longer than the read window comes back whole', async () => {
    // About 300 repositories of 80 characters: a cache line of over 24 KiB.
    const repositories = Array.from(
      { length: 300 },
      (_, index) =>
        `/srv/borg/${'long-directory-name-'.repeat(3)}${String(index).padStart(4, '0')}`,
    );
    const clients = Array.from({ length: 40 }, (_, index) => [
      `  - id: c${index}`,
      `    keys: ["${randomPublicKey()} c${index}"]`,
      `    repositories: [${(index === 7 ? repositories : [`/srv/borg/c${index}`]).join(', ')}]`,
    ]);
    writePolicy(
      [`version: 1`, `state_dir: ${stateDir}`, 'clients:', ...clients.flat(), ''].join('\n'),
    );
    const fromText = await loadPolicyClients(policyFile);
    const fromCache = await loadPolicyClients(policyFile);
    expect(existsSync(cacheFile())).toBe(true);
    const cached = Array.from(fromCache.clients);
    expect(cached).toEqual(Array.from(fromText.clients));
    expect(cached[7]!.repositories).toHaveLength(300);
    // A second pass reads the windows again from the start.
    expect(Array.from(fromCache.clients).map((client) => client.id)).toEqual(
      cached.map((client) => client.id),
    );
    fromCache.close();
    fromText.close();
  });

  it('policy edit of the same size misses', async () => {
    await loadPolicyClients(policyFile);
    writePolicy(policyText().replace('/srv/borg/web01', '/srv/borg/web02'));
    const loaded = await loadPolicyClients(policyFile);
    const web = Array.from(loaded.clients)[0]!;
    expect(web.repositories).toEqual([{ path: '/srv/borg/web02', name: 'main' }]);
  });

  it('invalid policy fails with a cache present', async () => {
    await loadPolicyClients(policyFile);
    writePolicy(policyText().replace('version: 1', 'version: 2'));
    await expect(loadPolicyClients(policyFile)).rejects.toThrow(/version/);
  });
});

describe('loadPolicy', () => {
  it('writes the cache serve reads', async () => {
    await loadPolicy(policyFile);
    const hit = await loadPolicyForClient(policyFile, 'db01');
    expect(hit.cache).toBe('hit');
  });

  it('leaves a current cache alone', async () => {
    await loadPolicy(policyFile);
    const before = statSync(cacheFile()).ino;
    await loadPolicy(policyFile);
    expect(statSync(cacheFile()).ino).toBe(before);
    expect(readdirSync(stateDir)).toHaveLength(1);
  });
});

describe('writePolicyCache', () => {
  it('skips a policy JSON cannot carry', async () => {
    const binaries = `borg:\n  binaries:\n    $borg_gate_date: /usr/bin/borg\n`;
    writePolicy(policyText({ top: binaries }));
    const source = await readPolicySource(policyFile);
    const policy = parsePolicy(policyFile, source.bytes.toString('utf8'));
    expect(writePolicyCache(policyFile, source, sourceDigest(source.bytes), policy)).toBe(
      'not-faithful',
    );
    expect(existsSync(cacheFile())).toBe(false);
  });

  it('skips a policy owned by another user', async () => {
    const source = { ...(await readPolicySource(policyFile)), uid: 12345 };
    const policy = parsePolicy(policyFile, source.bytes.toString('utf8'));
    expect(writePolicyCache(policyFile, source, sourceDigest(source.bytes), policy)).toBe(
      'not-owner',
    );
  });
});

describe('stateDirHint', () => {
  it.each([
    ['plain line', 'version: 1\nstate_dir: /srv/state\n', '/srv/state'],
    ['first line', 'state_dir: /srv/state\nversion: 1\n', '/srv/state'],
    ['comment after', 'state_dir: /srv/state  # here\n', '/srv/state'],
    ['no newline at end', 'version: 1\nstate_dir: /srv/state', '/srv/state'],
    ['quoted', 'state_dir: "/srv/state"\n', DEFAULT_STATE_DIR],
    ['nested key', 'checks:\n  state_dir: /srv/state\n', DEFAULT_STATE_DIR],
    ['absent', 'version: 1\n', DEFAULT_STATE_DIR],
  ])('%s', (_name, text, expected) => {
    expect(stateDirHint(Buffer.from(text))).toBe(expected);
  });

  it('default matches the schema', () => {
    expect(parsePolicy('p.yaml', 'version: 1\nclients: []\n').state_dir).toBe(DEFAULT_STATE_DIR);
  });
});

function truncateCache(length: number): void {
  const bytes = readFileSync(cacheFile());
  const end = length >= 0 ? length : bytes.lastIndexOf(0x0a, bytes.length - 2) + 1;
  writeFileSync(cacheFile(), bytes.subarray(0, end));
}

function rewriteHeader(change: (header: Record<string, unknown>) => Record<string, unknown>) {
  const text = readFileSync(cacheFile(), 'utf8');
  const headerEnd = text.indexOf('\n');
  const header = JSON.parse(text.slice(0, headerEnd)) as Record<string, unknown>;
  writeFileSync(cacheFile(), `${JSON.stringify(change(header))}${text.slice(headerEnd)}`);
}

async function fullPolicyFor(clientId: string) {
  const full = parsePolicy(policyFile, readFileSync(policyFile, 'utf8'));
  return { ...full, clients: full.clients.filter((client) => client.id === clientId) };
}

/** The three parts of a cache file as text: header line, index lines, client lines. */
interface CacheParts {
  header: Record<string, unknown>;
  index: string;
  body: string;
}

function readParts(): CacheParts {
  const text = readFileSync(cacheFile(), 'utf8');
  const headerEnd = text.indexOf('\n');
  const header = JSON.parse(text.slice(0, headerEnd)) as Record<string, unknown>;
  const indexEnd = headerEnd + 1 + (header.bucket_count as number) * 91;
  return { header, index: text.slice(headerEnd + 1, indexEnd), body: text.slice(indexEnd) };
}

/** Rewrites the cache from edited parts, leaving every size and hash in the header as it was. */
function editParts(edit: (parts: CacheParts) => CacheParts): void {
  const parts = edit(readParts());
  writeFileSync(cacheFile(), `${JSON.stringify(parts.header)}\n${parts.index}${parts.body}`);
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** Swaps the last two entries of the order part, which ends the body text. */
function swapLastOrderEntries(body: string): string {
  const last = body.slice(-8);
  const before = body.slice(-16, -8);
  expect(last).not.toBe(before);
  return body.slice(0, -16) + last + before;
}

function indexLines(parts: CacheParts): string[] {
  return parts.index.match(/[^\n]*\n/g) ?? [];
}

function swapIndexLines(parts: CacheParts): CacheParts {
  const lines = indexLines(parts);
  expect(lines.length).toBeGreaterThanOrEqual(2);
  expect(lines[0]).not.toBe(lines[1]);
  [lines[0], lines[1]] = [lines[1]!, lines[0]!];
  return { ...parts, index: lines.join('') };
}

/** Points the first index line at the second bucket's bytes, with their hash. */
function moveFirstBucket(parts: CacheParts): CacheParts {
  const lines = indexLines(parts);
  lines[0] = lines[1]!;
  return { ...parts, index: lines.join('') };
}

function clientLine(body: string, id: string): string {
  const line = body.split('\n').find((candidate) => candidate.startsWith(`{"id":"${id}",`));
  expect(line).toBeDefined();
  return line!;
}

function replaceWebLineByDbLine(parts: CacheParts): CacheParts {
  const web = clientLine(parts.body, 'web01');
  const db = clientLine(parts.body, 'db01').replace('"db01"', '"web01"');
  return { ...parts, body: parts.body.replace(web, db) };
}

/** Points db01 at another directory with a change of the same length, so no size changes. */
function editDbPath(parts: CacheParts): CacheParts {
  const line = clientLine(parts.body, 'db01');
  expect(line).toContain('"/srv/borg/db01"');
  return {
    ...parts,
    body: parts.body.replace(line, line.replace('/srv/borg/db01', '/srv/borg/xx01')),
  };
}

function replaceByFifo(): void {
  rmSync(cacheFile());
  execFileSync('mkfifo', [cacheFile()]);
}

function replaceBySymlink(): void {
  const target = join(dir, 'elsewhere.json');
  copyFileSync(cacheFile(), target);
  rmSync(cacheFile());
  symlinkSync(target, cacheFile());
}
