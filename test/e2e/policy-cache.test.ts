import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type GateFixture, startGate } from './harness/gate.js';

// serve reads the validated policy from a cache in state_dir, but an edit must still apply at once.
describe('policy cache through sshd', () => {
  let gate: GateFixture;
  let repo: string;
  let stateDir: string;

  beforeAll(async () => {
    gate = await startGate();
    repo = join(gate.dir, 'repos', 'app');
    stateDir = join(gate.dir, 'state');
    mkdirSync(join(gate.dir, 'repos'));
    mkdirSync(stateDir);
    writePolicy({});
    const init = await gate.borg('app', ['init', '-e', 'none', gate.url(repo)]);
    expect(init.code).toBe(0);
  });

  afterAll(async () => {
    await gate?.close();
  });

  function writePolicy(overrides: Record<string, unknown>) {
    gate.writePolicy({
      state_dir: stateDir,
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

  function cacheHeader(): Record<string, unknown> {
    const files = readdirSync(stateDir).filter((name) => name.startsWith('policy-cache-'));
    expect(files).toHaveLength(1);
    const text = readFileSync(join(stateDir, files[0]!), 'utf8');
    return JSON.parse(text.slice(0, text.indexOf('\n'))) as Record<string, unknown>;
  }

  function policyDigest(): string {
    return createHash('sha256').update(readFileSync(gate.policyFile)).digest('hex');
  }

  it('cache matches the policy bytes', async () => {
    const list = await gate.borg('app', ['list', gate.url(repo)]);
    expect(list.code).toBe(0);
    expect(cacheHeader().source_sha256).toBe(policyDigest());
  });

  it('edit applies on next connection', async () => {
    const warm = await gate.borg('app', ['list', gate.url(repo)]);
    expect(warm.code).toBe(0);
    writePolicy({ disabled: true });
    const before = gate.auditRecords().length;
    const refused = await gate.borg('app', ['list', gate.url(repo)]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('borg-gate: this key is disabled');
    const records = gate.auditRecords().slice(before);
    expect(records).toHaveLength(1);
    expect(String(records[0]?.reason)).toMatch(/^client-disabled/);
    expect(cacheHeader().source_sha256).toBe(policyDigest());
  });

  it('re-enabled client connects again', async () => {
    writePolicy({});
    const list = await gate.borg('app', ['list', gate.url(repo)]);
    expect(list.code).toBe(0);
    expect(cacheHeader().source_sha256).toBe(policyDigest());
  });
});
