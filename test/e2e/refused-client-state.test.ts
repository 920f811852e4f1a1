import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type GateFixture, readJsonLines, startGate } from './harness/gate.js';

// Each case changes the policy of one otherwise valid client, then runs `borg list` through sshd.
describe('refused client states', () => {
  let gate: GateFixture;
  let repo: string;

  beforeAll(async () => {
    gate = await startGate();
    repo = join(gate.dir, 'repos', 'app');
    mkdirSync(join(gate.dir, 'repos'));
    writeValidPolicy();
    const init = await gate.borg('app', ['init', '-e', 'none', gate.url(repo)]);
    expect(init.code).toBe(0);
  });

  afterAll(async () => {
    await gate?.close();
  });

  function writeValidPolicy(
    overrides: Record<string, unknown> = {},
    top: Record<string, unknown> = {},
  ) {
    gate.writePolicy({
      ...top,
      clients: [
        {
          id: 'app',
          keys: [gate.key('app').publicLine],
          repositories: [repo],
          mode: 'read-write',
          ...overrides,
        },
      ],
    });
  }

  it.each([
    [
      'expired client',
      { expires: '2020-01-01' },
      'borg-gate: this key has expired',
      'client-expired',
    ],
    ['disabled client', { disabled: true }, 'borg-gate: this key is disabled', 'client-disabled'],
    [
      'wrong source address',
      { from: ['192.0.2.0/24'] },
      'borg-gate: connections from this address are not permitted for this key',
      'source-not-permitted',
    ],
  ])('%s is refused', async (_name, overrides, message, reason) => {
    writeValidPolicy(overrides);
    await expectRefused(message, reason);
  });

  it('key of another client is refused', async () => {
    // The authorized_keys line still names client "app", but the policy lists another key for it.
    writeValidPolicy({ keys: [gate.key('other').publicLine] });
    gate.sshd.setAuthorizedKeys(
      `command="${gateLine('app')}",restrict ${gate.key('app').publicLine}\n`,
    );
    await expectRefused(
      'borg-gate: this key does not belong to the client it was installed for',
      'key-mismatch',
    );
  });

  async function expectRefused(message: string, reason: string) {
    const before = gate.auditRecords().length;
    const result = await gate.borg('app', ['list', gate.url(repo)]);
    expect(result.stderr).toContain(message);
    expect(result.stdout).toBe('');
    expect(result.code).toBe(2);
    const records = gate.auditRecords().slice(before);
    expect(records).toHaveLength(1);
    expect(records[0]?.decision).toBe('refuse');
    expect(String(records[0]?.reason)).toMatch(new RegExp(`^${reason}`));
  }

  it('unknown client id is refused', async () => {
    writeValidPolicy();
    gate.sshd.setAuthorizedKeys(
      `command="${gateLine('ghost')}",restrict ${gate.key('app').publicLine}\n`,
    );
    const before = gate.auditRecords().length;
    const result = await gate.borg('app', ['list', gate.url(repo)]);
    expect(result.stderr).toContain('borg-gate: this key is not known to the server access policy');
    expect(result.code).toBe(2);
    const records = gate.auditRecords().slice(before);
    expect(records[0]?.client_id).toBe('ghost');
    expect(String(records[0]?.reason)).toMatch(/^unknown-client/);
  });

  it('invalid policy is refused and logged', async () => {
    writeValidPolicy();
    writeFileSync(gate.policyFile, 'version: 1\nclients:\n  - id: app\n    mode: sideways\n');
    const result = await gate.borg('app', ['list', gate.url(repo)]);
    expect(result.stderr).toContain('borg-gate: the server access policy is unavailable');
    expect(result.stderr).not.toContain(gate.policyFile);
    expect(result.code).toBe(2);
    const fallback = readJsonLines(gate.fallbackAuditLog);
    expect(String(fallback.at(-1)?.reason)).toContain('policy-unavailable');
    expect(String(fallback.at(-1)?.reason)).toContain('clients[0]');
  });

  it('unwritable audit log is refused', async () => {
    const blocker = join(gate.dir, 'not-a-directory');
    writeFileSync(blocker, '');
    writeValidPolicy({}, { audit_log: join(blocker, 'audit.log') });
    const result = await gate.borg('app', ['list', gate.url(repo)]);
    expect(result.stderr).toContain('borg-gate: the server cannot record this connection');
    expect(result.stdout).toBe('');
    expect(result.code).toBe(2);
  });

  function gateLine(clientId: string): string {
    return `${join(process.cwd(), 'dist/borg-gate.js')} serve --client ${clientId} --policy ${gate.policyFile} --audit-log ${gate.fallbackAuditLog}`;
  }
});
