import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { NEGOTIATE, serveOnce } from './fixtures/serve-once.js';

// When no audit log takes a refusal, serve writes one line to the system log through logger.
// A stand-in script records the arguments logger would get.
describe('serve system log fallback', () => {
  let dir: string;
  let policyFile: string;
  let loggerOutput: string;
  let fakeLogger: string;

  beforeAll(() => {
    dir = mkdtempSync('/tmp/borg-gate-syslog-');
    mkdirSync(join(dir, 'repo'));
    policyFile = join(dir, 'policy.yaml');
    loggerOutput = join(dir, 'logger.out');
    fakeLogger = join(dir, 'fake-logger');
    writeFileSync(fakeLogger, `#!/bin/sh\nprintf '%s\\n' "$@" > '${loggerOutput}'\n`, {
      mode: 0o755,
    });
  });

  beforeEach(() => {
    rmSync(loggerOutput, { force: true });
    rmSync(join(dir, 'fallback.log'), { recursive: true, force: true });
  });

  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  function writePolicy(auditLog: string) {
    writeFileSync(
      policyFile,
      [
        'version: 1',
        `audit_log: ${auditLog}`,
        'clients:',
        '  - id: host',
        '    keys: ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHC9Xz4nk78bW+rSkPJZnfMkZFjjG/YRXCs3dagGeMaX"]',
        `    repositories: [${join(dir, 'repo')}]`,
        '',
      ].join('\n'),
      { mode: 0o644 },
    );
  }

  const serve = (file = policyFile) =>
    serveOnce({ dir, policyFile: file, input: NEGOTIATE, syslogCommand: [fakeLogger] });

  it('unwritable audit log logged', async () => {
    const blocker = join(dir, 'blocker');
    writeFileSync(blocker, '');
    writePolicy(join(blocker, 'audit.log'));
    const result = await serve();
    expect(result.code).toBe(1);
    const args = readFileSync(loggerOutput, 'utf8').split('\n');
    expect(args.slice(1, 6)).toEqual(['-t', 'borg-gate', '-p', 'authpriv.err', '--']);
    expect(args[6]).toMatch(/^refused session [0-9a-f-]{36} of client host from 127\.0\.0\.1: /);
    expect(args[6]).toContain('audit-log-unavailable, not recorded in any audit log');
  });

  it('missing policy without fallback logged', async () => {
    mkdirSync(join(dir, 'fallback.log'));
    const result = await serve(join(dir, 'no-such-policy.yaml'));
    expect(result.code).toBe(1);
    expect(readFileSync(loggerOutput, 'utf8')).toContain(
      'policy-unavailable, not recorded in any audit log',
    );
  });

  it('real logger reaches a syslog socket', async () => {
    const socket = join(dir, 'syslog.sock');
    const received = join(dir, 'received.txt');
    // A datagram socket like /dev/log, served by python3 (borg's interpreter), which Node lacks.
    const receiver = spawn('python3', [
      '-c',
      [
        'import socket, sys',
        's = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)',
        's.bind(sys.argv[1])',
        'print("ready", flush=True)',
        'open(sys.argv[2], "wb").write(s.recv(65536))',
      ].join('\n'),
      socket,
      received,
    ]);
    await new Promise((resolve) => receiver.stdout.once('data', resolve));
    const exited = new Promise((resolve) => receiver.once('close', resolve));

    const blocker = join(dir, 'blocker-real');
    writeFileSync(blocker, '');
    writePolicy(join(blocker, 'audit.log'));
    try {
      const result = await serveOnce({
        dir,
        policyFile,
        input: NEGOTIATE,
        syslogCommand: ['/usr/bin/logger', '-u', socket],
      });
      expect(result.code).toBe(1);
      await exited;
    } finally {
      receiver.kill();
    }

    const line = readFileSync(received, 'utf8');
    // authpriv (10) * 8 + err (3) = 83
    expect(line).toMatch(/^<83>.* borg-gate\[\d+\]: refused session /);
    expect(line).toContain('audit-log-unavailable');
  });

  it('missing policy with fallback not logged', async () => {
    const result = await serve(join(dir, 'no-such-policy.yaml'));
    expect(result.code).toBe(1);
    expect(existsSync(join(dir, 'fallback.log'))).toBe(true);
    expect(existsSync(loggerOutput)).toBe(false);
  });
});
