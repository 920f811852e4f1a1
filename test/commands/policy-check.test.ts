import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeKey } from '../e2e/harness/keys-fixture.js';

// The shipped bundle, as an admin runs it after every edit of the policy.
const CLI = join(import.meta.dirname, '../../dist/borg-gate.js');

let dir: string;
let key: string;
let otherKey: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'borg-gate-policy-check-'));
  mkdirSync(join(dir, 'repo'));
  key = makeKey(dir, 'a').publicLine;
  otherKey = makeKey(dir, 'b').publicLine;
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

function check(clients: string[]) {
  const file = join(dir, 'policy.yaml');
  writeFileSync(file, ['version: 1', 'clients:', ...clients, ''].join('\n'), { mode: 0o644 });
  const result = spawnSync(process.execPath, [CLI, 'policy', 'check', '--policy', file], {
    encoding: 'utf8',
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

const client = (id: string, keyLine: string, extra = `    repositories: [${'REPO'}]`) => [
  `  - id: ${id}`,
  `    keys: ["${keyLine}"]`,
  extra,
];

describe('policy check', () => {
  it('valid policy passes', () => {
    const result = check(
      client('web1', key).map((line) => line.replace('REPO', join(dir, 'repo'))),
    );
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('web1');
  });

  it.each([
    ['options before the key', (line: string) => `no-pty ${line}`],
    ['private key header', () => '-----BEGIN OPENSSH PRIVATE KEY-----'],
    ['damaged base64', (line: string) => line.replace(/AAAA(.)/, 'AAAA!')],
  ])('%s fails', (_name, mangle) => {
    const lines = client('web1', mangle(key)).map((line) =>
      line.replace('REPO', join(dir, 'repo')),
    );
    const result = check(lines);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('borg-gate: invalid policy:');
    expect(result.stderr).toContain('clients[0].keys[0]');
    expect(result.stdout).toBe('');
  });

  it.each([
    ['2029-06-30', '2029-06-30'],
    ['"2029-06-30T12:00:00"', '2029-06-30T12:00:00Z'],
  ])('shows expiry %s as %s', (written, shown) => {
    const lines = client('web1', key).map((line) => line.replace('REPO', join(dir, 'repo')));
    const result = check([...lines, `    expires: ${written}`]);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(` ${shown} `);
  });

  it('key under two clients fails', () => {
    const repo = join(dir, 'repo');
    const lines = [...client('web1', key), ...client('web2', key)].map((line) =>
      line.replace('REPO', repo),
    );
    const result = check(lines);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(
      'clients[1].keys[0]: this key is also listed for client "web1"',
    );
  });

  it('client without grants warns', () => {
    const repo = join(dir, 'repo');
    const lines = [
      ...client('web1', key).map((line) => line.replace('REPO', repo)),
      ...client('idle', otherKey, '    mode: read-only'),
    ];
    const result = check(lines);
    expect(result.code).toBe(0);
    expect(result.stderr).toContain('client "idle" has no repositories and no paths');
  });
});
