import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { readJsonLines } from '../e2e/harness/gate.js';
import { NEGOTIATE, request, serveOnce } from './fixtures/serve-once.js';

// The audit log takes session_start and then refuses session_end, as a file system that fills
// up during a backup does. The stand-in fails only that one record.
vi.mock('../../src/lib/audit-log/writer.js', async (importOriginal) => {
  const original = await importOriginal<typeof import('../../src/lib/audit-log/writer.js')>();
  const { AuditLogError } = await import('../../src/lib/audit-log/errors.js');
  return {
    ...original,
    openAuditLog: async (...args: Parameters<typeof original.openAuditLog>) => {
      const log = await original.openAuditLog(...args);
      return {
        path: log.path,
        close: () => log.close(),
        append: async (record: Parameters<typeof log.append>[0]) => {
          if (record.event === 'session_end')
            throw new AuditLogError(log.path, 'no space left on device');
          return log.append(record);
        },
      };
    },
  };
});

describe('serve when session_end cannot be recorded', () => {
  let dir: string;
  let repo: string;
  let policyFile: string;
  let auditLog: string;
  let loggerOutput: string;
  let fakeLogger: string;

  beforeAll(() => {
    dir = mkdtempSync('/tmp/borg-gate-end-unrecorded-');
    repo = join(dir, 'repo');
    execFileSync('borg', ['init', '-e', 'none', repo], { env: { ...process.env, HOME: dir } });
    auditLog = join(dir, 'audit.log');
    policyFile = join(dir, 'policy.yaml');
    writeFileSync(
      policyFile,
      `version: 1\naudit_log: ${auditLog}\nclients:\n  - id: host\n    keys: [ssh-ed25519 AAAAC3Nza]\n    repositories: [${repo}]\n`,
      { mode: 0o644 },
    );
    loggerOutput = join(dir, 'logger.out');
    fakeLogger = join(dir, 'fake-logger');
    writeFileSync(fakeLogger, `#!/bin/sh\nprintf '%s\\n' "$@" > '${loggerOutput}'\n`, {
      mode: 0o755,
    });
  });

  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('reports the finished session to the system log', async () => {
    const input = Buffer.concat([
      NEGOTIATE,
      request(2, 'open', { path: repo, create: false, lock: true }),
    ]);
    const result = await serveOnce({ dir, policyFile, input, syslogCommand: [fakeLogger] });
    expect(result.code).toBe(1);
    const events = readJsonLines(auditLog).map((record) => record.event);
    expect(events).toEqual(['session_start']);
    const line = readFileSync(loggerOutput, 'utf8').split('\n')[6];
    expect(line).toMatch(/^session [0-9a-f-]{36} of client host from 127\.0\.0\.1 ended /);
    expect(line).toContain('ended with exit code 0, but its session_end record was not written');
    expect(line).toContain('no space left on device');
  });
});
