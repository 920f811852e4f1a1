import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type GateFixture, run, sshOptions, startGate } from './harness/gate.js';

// Programs other than borg reach the forced command too; each must be refused with one line.
describe('non-borg requests', () => {
  let gate: GateFixture;
  let target: string;

  beforeAll(async () => {
    gate = await startGate();
    target = join(gate.dir, 'target');
    mkdirSync(target);
    gate.writePolicy({
      clients: [
        { id: 'app', keys: [gate.key('app').publicLine], repositories: [join(gate.dir, 'repo')] },
      ],
    });
  });

  afterAll(async () => {
    await gate?.close();
  });

  function login(): string[] {
    return [...sshOptions(gate.key('app').privateKey), '-P', String(gate.sshd.port)];
  }

  it.each([
    ['interactive login', [], 'borg-gate: interactive login is not permitted'],
    ['shell command', ['sh', '-c', 'id'], 'borg-gate: only borg serve requests are permitted'],
    [
      'rsync server',
      ['rsync', '--server', '-e.Lsfx', '.', '/tmp'],
      'borg-gate: only borg serve requests are permitted',
    ],
    [
      'command substitution',
      ['borg', 'serve', '$(id)'],
      'borg-gate: only borg serve requests are permitted',
    ],
    [
      'git upload',
      ['git-upload-pack', "'/srv/x'"],
      'borg-gate: only borg serve requests are permitted',
    ],
  ])('%s is refused', async (_name, command, message) => {
    const before = gate.auditRecords().length;
    const result = await gate.ssh('app', command);
    expect(result.stderr).toContain(message);
    expect(result.stdout).toBe('');
    expect(result.code).not.toBe(0);
    const records = gate.auditRecords().slice(before);
    expect(records).toHaveLength(1);
    expect(records[0]?.decision).toBe('refuse');
  });

  it('scp upload is refused', async () => {
    const file = join(gate.dir, 'payload.txt');
    writeFileSync(file, 'payload\n');
    const destination = `${gate.sshd.user}@127.0.0.1:${target}/`;
    const legacy = await run('scp', ['-O', ...login(), file, destination], { timeoutMs: 20_000 });
    expect(legacy.code).not.toBe(0);
    expect(legacy.stderr).toContain('borg-gate: only borg serve requests are permitted');
    const modern = await run('scp', ['-s', ...login(), file, destination], { timeoutMs: 20_000 });
    expect(modern.code).not.toBe(0);
    expect(readdirSync(target)).toEqual([]);
  });

  it('sftp session is refused', async () => {
    const result = await run('sftp', ['-b', '-', ...login(), `${gate.sshd.user}@127.0.0.1`], {
      input: `put ${gate.policyFile} ${target}/copy\n`,
      timeoutMs: 20_000,
    });
    expect(result.code).not.toBe(0);
    expect(readdirSync(target)).toEqual([]);
    const last = gate.auditRecords().at(-1);
    expect(last?.decision).toBe('refuse');
    expect(String(last?.command)).toContain('sftp');
  });
});
