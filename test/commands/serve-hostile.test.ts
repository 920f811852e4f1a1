import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditRecordSchema } from '../../src/lib/audit-log/record.js';
import { readJsonLines } from '../e2e/harness/gate.js';
import { NEGOTIATE, request, serveOnce } from './fixtures/serve-once.js';

interface CorpusCase {
  command: string;
  expect: 'accept' | 'reject';
}

const corpus = (
  JSON.parse(
    readFileSync(new URL('../fixtures/hostile-commands.json', import.meta.url), 'utf8'),
  ) as {
    cases: CorpusCase[];
  }
).cases.filter((entry) => !entry.command.includes('\0')); // execve cannot pass NUL, and neither can sshd.

// What a borg 1.2 client sends first: negotiate, then open of a path outside the policy.
const CLIENT_HELLO = Buffer.concat([
  NEGOTIATE,
  request(2, 'open', {
    path: '/nowhere/repo',
    create: false,
    lock_wait: 1,
    lock: true,
    exclusive: false,
  }),
]);

// Unescaped C0/C1 controls, bidi marks and overrides must never reach a log line.
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point.
const RAW_CONTROL = /[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/u;

// Runs serve's session code in-process with the real policy loader and audit log, once per
// corpus entry, as sshd would with that SSH_ORIGINAL_COMMAND.
describe('serve on the hostile command corpus', () => {
  let dir: string;
  let policyFile: string;
  let auditLog: string;

  beforeAll(() => {
    dir = mkdtempSync('/tmp/borg-gate-hostile-');
    policyFile = join(dir, 'policy.yaml');
    auditLog = join(dir, 'audit.log');
    const binaries = [
      'borg',
      '/usr/bin/borg',
      '/usr/local/bin/borg',
      'borg1',
      'borg-1.4.1',
      'borg2',
    ];
    writeFileSync(
      policyFile,
      [
        'version: 1',
        `audit_log: ${auditLog}`,
        'borg:',
        '  binaries:',
        ...binaries.map((name) => `    "${name}": /usr/bin/borg`),
        'clients:',
        '  - id: host',
        '    keys: [ssh-ed25519 AAAAC3Nza]',
        `    repositories: [${dir}/repo]`,
      ].join('\n'),
      { mode: 0o644 },
    );
  });

  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('has at least 200 commands', () => {
    expect(corpus.length).toBeGreaterThanOrEqual(200);
  });

  it.each(corpus.map((entry) => [JSON.stringify(entry.command.slice(0, 60)), entry] as const))(
    '%s',
    async (_label, entry) => {
      const before = readJsonLines(auditLog).length;
      const result = await serveOnce({
        dir,
        policyFile,
        command: entry.command,
        input: CLIENT_HELLO,
      });
      expect(result.code).toBe(1);
      const records = readJsonLines(auditLog).slice(before);
      expect(records).toHaveLength(1);
      const record = records[0]!;
      expect(auditRecordSchema.safeParse(record).success).toBe(true);
      expect(String(record.command)).not.toMatch(RAW_CONTROL);
      const reason = String(record.reason).split(':')[0];
      if (entry.expect === 'accept') {
        // An accepted command gets as far as `open`, whose path the policy does not list.
        expect(reason).toBe('repository-not-permitted');
        return;
      }
      expect(reason).not.toBe('repository-not-permitted');
      if (result.stdout.length === 0) {
        expect(result.stderr).toMatch(/^borg-gate: [^\n]+\n$/);
      } else {
        // A borg-shaped request is refused inside borg's protocol: stdout carries only replies.
        expect(result.stdout.subarray(0, 4).toString('hex')).toBe('940101c0');
        expect(result.stderr).toBe('');
      }
    },
  );
});
