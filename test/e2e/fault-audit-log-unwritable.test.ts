import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyAuditLog } from '../../src/lib/audit-log/verify.js';
import { AuditLogError, openAuditLog } from '../../src/lib/audit-log/writer.js';
import { type GateFixture, makeSourceTree, startGate } from './harness/gate.js';
import { E2E_FAULT_TIMEOUT_MS } from './harness/interrupted-create.js';
import { borgServeProcesses } from './harness/processes.js';
import { hashRepository } from './harness/repo-files.js';

const REFUSAL = 'borg-gate: the server cannot record this connection';

/** Mounts a 64 KiB tmpfs at `dir`; returns false when this host does not allow mounts. */
function mountSmallTmpfs(dir: string): boolean {
  mkdirSync(dir, { recursive: true });
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k,mode=0755', 'tmpfs', dir], {
      stdio: 'pipe',
    });
    return true;
  } catch {
    return false;
  }
}

const canMount = (() => {
  const probe = `/tmp/borg-gate-mount-probe-${process.pid}`;
  if (!mountSmallTmpfs(probe)) {
    return false;
  }
  execFileSync('umount', [probe]);
  execFileSync('rmdir', [probe]);
  return true;
})();

/** Writes zeros to `file` until the file system is full. */
function fillFileSystem(file: string): void {
  const fd = openSync(file, 'w');
  const block = Buffer.alloc(1024);
  try {
    for (;;) {
      writeSync(fd, block);
    }
  } catch (error) {
    expect((error as NodeJS.ErrnoException).code).toBe('ENOSPC');
  } finally {
    closeSync(fd);
  }
}

/** Asserts that every line of the log is a whole JSON record and that the chain verifies. */
async function expectIntactLog(log: string): Promise<void> {
  const text = readFileSync(log, 'utf8');
  expect(text.endsWith('\n')).toBe(true);
  for (const line of text.split('\n').filter((entry) => entry !== '')) {
    expect(() => JSON.parse(line), line).not.toThrow();
  }
  const result = await verifyAuditLog(log);
  expect(result.problems).toEqual([]);
  expect(result.ok).toBe(true);
}

if (!canMount) {
  console.warn(
    'skipping the unwritable audit log tests: mount -t tmpfs failed (needs CAP_SYS_ADMIN)',
  );
}

describe.skipIf(!canMount)(
  'audit log on an unwritable file system',
  { timeout: E2E_FAULT_TIMEOUT_MS },
  () => {
    let gate: GateFixture;
    let repo: string;
    let source: string;
    let mountPoint: string;
    let log: string;

    beforeAll(async () => {
      gate = await startGate();
      repo = join(gate.dir, 'repo');
      source = makeSourceTree(join(gate.dir, 'source'));
      mountPoint = join(gate.dir, 'auditfs');
      expect(mountSmallTmpfs(mountPoint)).toBe(true);
      log = join(mountPoint, 'audit.log');
      gate.writePolicy({
        audit_log: log,
        clients: [
          {
            id: 'host',
            keys: [gate.key('host').publicLine],
            repositories: [repo],
            mode: 'read-write',
          },
        ],
      });
      const init = await gate.borg('host', ['init', '-e', 'none', gate.url(repo)]);
      expect(init.code).toBe(0);
    });

    afterAll(async () => {
      if (mountPoint !== undefined) {
        execFileSync('umount', ['--lazy', mountPoint], { stdio: 'ignore' });
      }
      await gate?.close();
    });

    /** Runs one backup that the gate must refuse, and checks that nothing reached the repository. */
    async function expectRefusedBackup(archive: string): Promise<void> {
      const before = hashRepository(repo);
      const create = await gate.borg('host', ['create', `${gate.url(repo)}::${archive}`, '.'], {
        cwd: source,
      });
      expect(create.stderr).toContain(REFUSAL);
      expect(create.stderr).not.toContain(mountPoint);
      expect(create.stderr).not.toContain('at ');
      expect(create.code).not.toBe(0);
      expect(borgServeProcesses(repo)).toEqual([]);
      expect(hashRepository(repo)).toEqual(before);
    }

    it('full file system: sessions are refused', async () => {
      const first = await gate.borg('host', ['create', `${gate.url(repo)}::before-full`, '.'], {
        cwd: source,
      });
      expect(first.code).toBe(0);
      fillFileSystem(join(mountPoint, 'filler'));
      // Refused sessions must not use up the space that is left either.
      for (let attempt = 0; attempt < 4; attempt += 1) {
        await expectRefusedBackup(`full-${attempt}`);
      }
      await expectIntactLog(log);
    });

    it('read-only file system: sessions are refused', async () => {
      execFileSync('rm', ['-f', join(mountPoint, 'filler')]);
      const ok = await gate.borg('host', ['create', `${gate.url(repo)}::before-ro`, '.'], {
        cwd: source,
      });
      expect(ok.code).toBe(0);
      execFileSync('mount', ['-o', 'remount,ro', mountPoint]);
      try {
        await expectRefusedBackup('read-only');
        await expectIntactLog(log);
      } finally {
        execFileSync('mount', ['-o', 'remount,rw', mountPoint]);
      }
      const list = await gate.borg('host', ['list', '--short', gate.url(repo)]);
      expect(list.stdout.trim().split('\n')).toEqual(['before-full', 'before-ro']);
    });

    it('disk full after open: no partial record', async () => {
      rmSync(join(mountPoint, 'filler'), { force: true });
      const second = join(mountPoint, 'second.log');
      const audit = await openAuditLog(second, { fsync: false });
      const record = {
        event: 'session_refused' as const,
        client_id: 'host',
        decision: 'refuse' as const,
        reason: `test: ${'x'.repeat(900)}`,
      };
      await audit.append(record);
      fillFileSystem(join(mountPoint, 'filler'));
      let failures = 0;
      // Appends fill the free tail of the log's last page until one is cut short at its end.
      for (let attempt = 0; attempt < 20; attempt += 1) {
        const outcome = await audit.append(record).catch((error: unknown) => error);
        if (outcome instanceof AuditLogError) {
          failures += 1;
        }
      }
      expect(failures).toBeGreaterThan(0);
      await expectIntactLog(second);
      rmSync(join(mountPoint, 'filler'));
    });
  },
);
