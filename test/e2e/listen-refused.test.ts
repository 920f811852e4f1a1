import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readJsonLines } from './harness/gate.js';
import { type ListenFixture, startListen } from './harness/listen.js';
import {
  CLIENT_STATE_CASES,
  NON_BORG_CASES,
  REPOSITORY_CASES,
  REPOSITORY_REFUSAL,
  type RepositoryLayout,
} from './harness/refusal-cases.js';
import { hashRepository } from './harness/repo-files.js';

// The same cases as the serve tests under sshd, with the same messages and audit reasons.
describe('refusals through listen', () => {
  let server: ListenFixture;
  let layout: RepositoryLayout;

  beforeAll(async () => {
    server = await startListen();
    const root = join(server.dir, 'srv');
    mkdirSync(root);
    layout = { root, allowed: join(root, 'a'), other: join(root, 'b') };
    writeValidPolicy();
    expect(
      (await server.borg('alice', ['init', '-e', 'none', server.url(layout.allowed)])).code,
    ).toBe(0);
    expect((await server.borg('bob', ['init', '-e', 'none', server.url(layout.other)])).code).toBe(
      0,
    );
    symlinkSync(layout.other, join(root, 'link-to-b'));
  });

  afterAll(async () => {
    await server?.close();
  });

  function writeValidPolicy(
    overrides: Record<string, unknown> = {},
    top: Record<string, unknown> = {},
  ) {
    server.writePolicy({
      ...top,
      clients: [
        {
          id: 'alice',
          keys: [server.key('alice').publicLine],
          repositories: [{ path: layout.allowed, name: 'alice-main' }],
          mode: 'read-write',
          ...overrides,
        },
        {
          id: 'bob',
          keys: [server.key('bob').publicLine],
          repositories: [layout.other],
          mode: 'read-write',
        },
      ],
    });
  }

  async function expectBorgRefused(path: string, message: string, reason: string) {
    const before = server.auditRecords().length;
    const result = await server.borg('alice', ['list', server.url(path)]);
    expect(result.stderr).toContain(message);
    expect(result.stdout).toBe('');
    expect(result.code).toBe(2);
    const records = server.auditRecords().slice(before);
    expect(records).toHaveLength(1);
    expect(records[0]?.decision).toBe('refuse');
    expect(records[0]?.client_id).toBe('alice');
    expect(String(records[0]?.reason)).toMatch(new RegExp(`^${reason}`));
  }

  it.each(CLIENT_STATE_CASES)('%s is refused', async (_name, overrides, message, reason) => {
    writeValidPolicy(overrides);
    await expectBorgRefused(layout.allowed, message, reason);
  });

  it.each(REPOSITORY_CASES)('%s is refused', async (_name, path) => {
    writeValidPolicy();
    const before = hashRepository(layout.other);
    await expectBorgRefused(path(layout), REPOSITORY_REFUSAL, 'repository-not-permitted');
    expect(hashRepository(layout.other)).toEqual(before);
  });

  it.each(NON_BORG_CASES)('%s is refused', async (_name, command, message) => {
    writeValidPolicy();
    const before = server.auditRecords().length;
    const result = await server.ssh('alice', command);
    expect(result.stderr).toContain(message);
    expect(result.stdout).toBe('');
    expect(result.code).not.toBe(0);
    const records = server.auditRecords().slice(before);
    expect(records).toHaveLength(1);
    expect(records[0]?.decision).toBe('refuse');
  });

  it('invalid policy is refused and logged', async () => {
    writeValidPolicy();
    writeFileSync(server.policyFile, 'version: 1\nclients:\n  - id: alice\n    mode: sideways\n');
    const result = await server.borg('alice', ['list', server.url(layout.allowed)]);
    expect(result.stderr).toContain('borg-gate: the server access policy is unavailable');
    expect(result.stderr).not.toContain(server.policyFile);
    expect(result.code).toBe(2);
    const fallback = readJsonLines(server.fallbackAuditLog);
    expect(String(fallback.at(-1)?.reason)).toContain('policy-unavailable');
    expect(server.logRecords().some((record) => record.event === 'policy_unavailable')).toBe(true);
  });

  it('unwritable audit log is refused', async () => {
    const blocker = join(server.dir, 'not-a-directory');
    writeFileSync(blocker, '');
    writeValidPolicy({}, { audit_log: join(blocker, 'audit.log') });
    const result = await server.borg('alice', ['list', server.url(layout.allowed)]);
    expect(result.stderr).toContain('borg-gate: the server cannot record this connection');
    expect(result.stdout).toBe('');
    expect(result.code).toBe(2);
  });

  it('key removed from policy cannot log in', async () => {
    writeValidPolicy();
    server.writePolicy({
      clients: [{ id: 'bob', keys: [server.key('bob').publicLine], repositories: [layout.other] }],
    });
    // Plain ssh, because borg sometimes reads the end of ssh's stdout before it relays ssh's
    // stderr, and then shows only 'Connection closed by remote host'.
    const result = await server.ssh('alice', ['borg', 'serve', '--info']);
    expect(result.stderr).toContain('Permission denied (publickey)');
    expect(result.stdout).toBe('');
    expect(result.code).toBe(255);
    const listed = await server.borg('alice', ['list', server.url(layout.allowed)]);
    expect(listed.code).toBe(2);
    const refused = await server.waitForLog(
      (record) => record.event === 'connection_refused' && record.reason === 'auth-failed',
    );
    expect(refused.key_fingerprint).toMatch(/^SHA256:/);
  });
});
