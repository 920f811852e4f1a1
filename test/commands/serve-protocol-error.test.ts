import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { encode } from '@msgpack/msgpack';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runServe } from '../../src/commands/serve.js';
import { readJsonLines } from '../e2e/harness/gate.js';

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
    const stdin = new PassThrough();
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    stdout.resume();
    stderr.resume();
    stdin.end(
      Buffer.concat([
        encode([1, 1, 'negotiate', [{ client_version: [1, 2, 4, -1] }]]),
        encode({ i: 2, m: 'open', a: { path: `${dir}/repo`, create: false, lock: true } }),
        // 0xc1 is the one byte msgpack never uses.
        Buffer.from([0xc1, 0x00, 0x01]),
      ]),
    );
    const env = {
      HOME: dir,
      SSH_ORIGINAL_COMMAND: 'borg serve',
      SSH_CONNECTION: '127.0.0.1 4000 127.0.0.1 22',
    };
    const code = await runServe(
      { clientId: 'host', policyFile, fallbackAuditLog: join(dir, 'fallback.log') },
      { stdin, stdout, stderr, env },
    );
    expect(code).toBe(1);
    const end = readJsonLines(auditLog).find((record) => record.event === 'session_end');
    expect(end?.decision).toBe('refuse');
    expect(String(end?.reason)).toMatch(/^protocol-error/);
  });
});
