import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readJsonLines } from '../e2e/harness/gate.js';
import { NEGOTIATE, request, serveOnce } from './fixtures/serve-once.js';

// Bytes that break borg's framing after a permitted `open` end the session as a refusal, although
// borg itself exits 0 once its input ends.
describe('serve after a protocol violation', () => {
  let dir: string;
  let policyFile: string;
  let auditLog: string;

  beforeAll(() => {
    dir = mkdtempSync('/tmp/borg-gate-violation-');
    policyFile = join(dir, 'policy.yaml');
    auditLog = join(dir, 'audit.log');
    writeFileSync(
      policyFile,
      `version: 1\naudit_log: ${auditLog}\nclients:\n  - id: host\n    keys: [ssh-ed25519 AAAAC3Nza]\n    repositories: [${dir}/repo]\n`,
      { mode: 0o644 },
    );
  });

  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('exits non-zero and records a refusal', async () => {
    const input = Buffer.concat([
      NEGOTIATE,
      request(2, 'open', { path: `${dir}/repo`, create: false, lock: true }),
      // 0xc1 is the one byte msgpack never uses.
      Buffer.from([0xc1, 0x00, 0x01]),
    ]);
    const { code } = await serveOnce({ dir, policyFile, input });
    expect(code).toBe(1);
    const end = readJsonLines(auditLog).find((record) => record.event === 'session_end');
    expect(end?.decision).toBe('refuse');
    expect(String(end?.reason)).toMatch(/^protocol-error/);
  });
});
