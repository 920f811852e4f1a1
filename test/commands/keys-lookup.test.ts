import {
  appendFileSync,
  closeSync,
  fstatSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseLookupArgv, runLookup } from '../../src/commands/keys/lookup.js';
import { formatIndex } from '../../src/lib/authorized-keys/lookup-index.js';
import { sourceDigest } from '../../src/lib/policy/cache.js';
import { formatStamp } from '../../src/lib/policy/file-stamp.js';
import { makeKeys } from '../lib/authorized-keys/fixtures.js';

const { dir, keys } = makeKeys(4);
const policyFile = join(dir, 'policy.yaml');
const gatePath = '/usr/local/bin/borg-gate';
const words = keys.map((key) => key.split(' ') as [string, string, string]);
const wrapped = words[3]!;

writeFileSync(
  policyFile,
  `version: 1
clients:
  - id: web1
    keys:
      - ${keys[0]}
      - {key: "${keys[1]}", expires: 2020-01-01}
  - id: off
    disabled: true
    keys: ["${keys[2]}"]
  - id: wrapped
    keys:
      - "${wrapped[0]} ${wrapped[1].slice(0, 30)}\\
        ${wrapped[1].slice(30)}"
`,
);

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

function lookup(index: number, user = 'borg') {
  return runLookup({
    policyFile,
    gatePath,
    user: 'borg',
    requestUser: user,
    keyType: words[index]![0],
    keyBase64: words[index]![1],
  });
}

describe('runLookup', () => {
  it('active key prints entry', async () => {
    expect(await lookup(0)).toBe(
      `command="${gatePath} serve --client web1 --policy ${policyFile}",restrict ${keys[0]}`,
    );
  });

  it.each([
    ['expired key', 1],
    ['disabled client', 2],
  ])('%s prints nothing', async (_name, index) => {
    expect(await lookup(index)).toBeUndefined();
  });

  it('other user prints nothing', async () => {
    expect(await lookup(0, 'root')).toBeUndefined();
  });

  it('unknown key prints nothing', async () => {
    const result = await runLookup({
      policyFile,
      gatePath,
      requestUser: 'borg',
      keyType: 'ssh-ed25519',
      keyBase64: 'AAAAC3NzaC1lZDI1NTE5AAAAIHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4',
    });
    expect(result).toBeUndefined();
  });

  it('type mismatch prints nothing', async () => {
    const result = await runLookup({
      policyFile,
      gatePath,
      requestUser: 'borg',
      keyType: 'ssh-rsa',
      keyBase64: words[0]![1],
    });
    expect(result).toBeUndefined();
  });

  it('double-quoted continuation found', async () => {
    expect(await lookup(3)).toMatch(/--client wrapped/);
  });

  it('invalid policy throws', async () => {
    const broken = join(dir, 'broken.yaml');
    writeFileSync(broken, `version: 2\n# ${words[0]![1]}\n`);
    await expect(
      runLookup({
        policyFile: broken,
        gatePath,
        requestUser: 'borg',
        keyType: words[0]![0],
        keyBase64: words[0]![1],
      }),
    ).rejects.toThrow(/version/);
  });
});

describe('runLookup with index', () => {
  const indexFile = join(dir, 'lookup.index');
  const options = (index: number) => ({
    policyFile,
    gatePath,
    indexFile,
    requestUser: 'borg',
    keyType: words[index]![0],
    keyBase64: words[index]![1],
  });

  it('answers from a matching index', async () => {
    const source = readFileSync(policyFile, 'utf8');
    const fake = 'command="from-index",restrict';
    writeFileSync(
      indexFile,
      formatIndex(sourceDigest(Buffer.from(source)), { gatePath, policyFile }, [
        { base64: words[0]![1], line: `${fake} ${keys[0]}` },
      ]),
    );
    expect(await runLookup(options(0))).toBe(`${fake} ${keys[0]}`);
    // The index is authoritative while it matches: a key missing from it gets no entry.
    expect(await runLookup(options(3))).toBeUndefined();
  });

  it('ignores listed key when policy changed', async () => {
    const fake = 'command="from-index",restrict';
    writeFileSync(
      indexFile,
      formatIndex(sourceDigest(Buffer.from('other text')), { gatePath, policyFile }, [
        { base64: words[0]![1], line: `${fake} ${keys[0]}` },
      ]),
    );
    const entry = await runLookup(options(0));
    expect(entry).not.toContain('from-index');
    expect(entry).toMatch(/--client web1/);
  });

  it('falls back when paths differ', async () => {
    const source = readFileSync(policyFile);
    writeFileSync(
      indexFile,
      formatIndex(
        sourceDigest(Buffer.from(source)),
        { gatePath: '/opt/other/borg-gate', policyFile },
        [{ base64: words[0]![1], line: `command="from-index",restrict ${keys[0]}` }],
      ),
    );
    expect(await runLookup(options(0))).toMatch(/--client web1/);
  });

  it('falls back when policy changed', async () => {
    writeFileSync(
      indexFile,
      formatIndex(sourceDigest(Buffer.from('other text')), { gatePath, policyFile }, []),
    );
    expect(await runLookup(options(0))).toMatch(/--client web1/);
  });

  /**
   * Writes an index with the policy's current stamp and a wrong hash, so only the stamp can
   * make it count. Returns the line it gives for key 0.
   */
  function writeStampedIndex(): string {
    const fake = `command="from-index",restrict ${keys[0]}`;
    writeFileSync(
      indexFile,
      formatIndex(
        sourceDigest(Buffer.from('other text')),
        { gatePath, policyFile },
        [{ base64: words[0]![1], line: fake }],
        stampOf(policyFile),
      ),
    );
    return fake;
  }

  it('trusts index on matching stamp', async () => {
    const fake = writeStampedIndex();
    expect(await runLookup(options(0))).toBe(fake);
    expect(await runLookup(options(3))).toBeUndefined();
  });

  it('falls back after stamp change', async () => {
    writeStampedIndex();
    const original = readFileSync(policyFile);
    try {
      appendFileSync(policyFile, '# edited\n');
      const entry = await runLookup(options(0));
      expect(entry).not.toContain('from-index');
      expect(entry).toMatch(/--client web1/);
    } finally {
      writeFileSync(policyFile, original);
    }
  });
});

function stampOf(file: string): string {
  const fd = openSync(file, 'r');
  try {
    return formatStamp(fstatSync(fd, { bigint: true }));
  } finally {
    closeSync(fd);
  }
}

describe('parseLookupArgv', () => {
  it('full form', () => {
    expect(
      parseLookupArgv([
        '--policy',
        '/p.yaml',
        '--gate-path',
        '/g',
        '--user',
        'borg',
        'borg',
        'ssh-ed25519',
        'AAAA',
      ]),
    ).toEqual({
      policyFile: '/p.yaml',
      gatePath: '/g',
      user: 'borg',
      requestUser: 'borg',
      keyType: 'ssh-ed25519',
      keyBase64: 'AAAA',
    });
  });

  it('default policy ignores environment', () => {
    process.env.BORG_GATE_POLICY = '/tmp/evil.yaml';
    const parsed = parseLookupArgv(['borg', 'ssh-ed25519', 'AAAA']);
    delete process.env.BORG_GATE_POLICY;
    expect(parsed).toMatchObject({ policyFile: '/etc/borg-gate/policy.yaml' });
  });

  it.each([
    ['missing key', ['borg', 'ssh-ed25519'], /usage:/],
    ['extra word', ['borg', 'ssh-ed25519', 'AAAA', 'x'], /usage:/],
    [
      'unknown option',
      ['--nope', 'borg', 'ssh-ed25519', 'AAAA'],
      /unknown keys lookup option "--nope"/,
    ],
    ['option without value', ['borg', 'ssh-ed25519', 'AAAA', '--policy'], /--policy needs a value/],
  ])('%s', (_name, args, message) => {
    expect(parseLookupArgv(args)).toMatch(message);
  });
});
