import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeSourceTree } from './harness/gate.js';
import { type ListenFixture, startListen } from './harness/listen.js';

const PARALLEL_CLIENTS = 20;

describe('parallel backups through listen', () => {
  let server: ListenFixture;
  let source: string;
  const ids = Array.from({ length: PARALLEL_CLIENTS }, (_, index) => `host${index}`);

  beforeAll(async () => {
    server = await startListen();
    mkdirSync(join(server.dir, 'repos'));
    source = makeSourceTree(join(server.dir, 'source'), {
      'a.txt': 'alpha\n',
      'big.bin': Buffer.alloc(2 * 1024 * 1024, 7),
    });
    server.writePolicy({
      clients: ids.map((id) => ({
        id,
        keys: [server.key(id).publicLine],
        repositories: [join(server.dir, 'repos', id)],
        mode: 'append-only',
      })),
    });
  });

  afterAll(async () => {
    await server?.close();
  });

  it('20 clients back up at once', async () => {
    const backups = ids.map(async (id) => {
      const repo = server.url(join(server.dir, 'repos', id));
      const init = await server.borg(id, ['init', '-e', 'none', repo], { timeoutMs: 120_000 });
      const create = await server.borg(id, ['create', `${repo}::first`, '.'], {
        cwd: source,
        timeoutMs: 120_000,
      });
      const list = await server.borg(id, ['list', '--short', repo], { timeoutMs: 120_000 });
      return {
        id,
        init: init.code,
        create: create.code,
        list: list.stdout.trim(),
        stderr: create.stderr,
      };
    });
    const results = await Promise.all(backups);
    for (const result of results) {
      expect(result, result.id).toEqual({
        id: result.id,
        init: 0,
        create: 0,
        list: 'first',
        stderr: '',
      });
    }
    const ends = server.auditRecords().filter((record) => record.event === 'session_end');
    expect(ends).toHaveLength(PARALLEL_CLIENTS * 3);
    expect(ends.every((record) => record.exit_code === 0)).toBe(true);
  }, 300_000);
});
