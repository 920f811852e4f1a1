import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditRecordSchema } from '../../src/lib/audit-log/record.js';
import { makeSourceTree } from './harness/gate.js';
import { type ListenFixture, startListen } from './harness/listen.js';

describe('backup through listen', () => {
  let server: ListenFixture;
  let repo: string;
  let source: string;

  beforeAll(async () => {
    server = await startListen();
    repo = join(server.dir, 'repos', 'web01');
    mkdirSync(join(server.dir, 'repos'));
    source = makeSourceTree(join(server.dir, 'source'));
    server.writePolicy({
      clients: [
        {
          id: 'web01',
          keys: [server.key('web01').publicLine],
          repositories: [repo],
          mode: 'read-write',
        },
      ],
    });
  });

  afterAll(async () => {
    await server?.close();
  });

  it('host key is private and logged', () => {
    expect(statSync(server.hostKeyFile).mode & 0o777).toBe(0o600);
    const publicKey = execFileSync('ssh-keygen', ['-y', '-f', server.hostKeyFile]);
    const listed = execFileSync('ssh-keygen', ['-l', '-f', '-'], { input: publicKey }).toString();
    const start = server.logRecords().find((record) => record.event === 'listen_start');
    expect(listed).toContain(String(start?.host_key_fingerprint));
    expect(start?.host_key_created).toBe(true);
  });

  it('init, create, list and extract succeed', async () => {
    const init = await server.borg('web01', ['init', '-e', 'none', server.url(repo)]);
    expect(init.stderr).toBe('');
    expect(init.code).toBe(0);

    const create = await server.borg('web01', ['create', `${server.url(repo)}::first`, '.'], {
      cwd: source,
    });
    expect(create.stderr).toBe('');
    expect(create.code).toBe(0);

    const list = await server.borg('web01', ['list', '--short', server.url(repo)]);
    expect(list.code).toBe(0);
    expect(list.stdout.trim()).toBe('first');

    const target = join(server.dir, 'restore');
    mkdirSync(target);
    const extract = await server.borg('web01', ['extract', `${server.url(repo)}::first`], {
      cwd: target,
    });
    expect(extract.code).toBe(0);
    expect(readFileSync(join(target, 'sub/b.txt'), 'utf8')).toBe('beta\n');
  });

  it('audit records match serve', () => {
    const records = server.auditRecords();
    expect(records.length).toBeGreaterThanOrEqual(8);
    for (const record of records) {
      expect(auditRecordSchema.safeParse(record).success).toBe(true);
    }
    const ends = records.filter((record) => record.event === 'session_end');
    expect(ends).toHaveLength(4);
    expect(ends.every((record) => record.exit_code === 0)).toBe(true);
    const start = records.find((record) => record.event === 'session_start');
    expect(start?.client_id).toBe('web01');
    expect(start?.client_ip).toBe('127.0.0.1');
    expect(start?.command).toBe('borg serve');
    expect(String(start?.key_fingerprint)).toMatch(/^SHA256:/);
  });

  it('borg stderr reaches the client', async () => {
    // With --debug the client passes --debug to borg serve, whose log lines arrive on stderr.
    const result = await server.borg('web01', ['--debug', 'list', server.url(repo)]);
    expect(result.code).toBe(0);
    expect(result.stderr).toContain('Remote: Resolved repository path');
  });
});
