import { writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { computeRecordHash } from '../../src/lib/audit-log/chain.js';
import { GENESIS_HASH } from '../../src/lib/audit-log/record.js';

/**
 * Writes records with fixed times as a valid chain to `path` (gzipped when it ends in
 * `.gz`) and returns the hash of the last one, to seed the next file.
 */
export function writeChain(
  path: string,
  records: Array<Record<string, unknown>>,
  prevHash = GENESIS_HASH,
): string {
  let prev = prevHash;
  const lines: string[] = [];
  for (const partial of records) {
    const record = { schema_version: 1, host: 'backup1', ...partial, prev_hash: prev };
    const hash = computeRecordHash(record);
    lines.push(JSON.stringify({ ...record, hash }));
    prev = hash;
  }
  const text = `${lines.join('\n')}\n`;
  writeFileSync(path, path.endsWith('.gz') ? gzipSync(text) : text);
  return prev;
}

/** Writes a day of activity for two clients, split over audit.log.2.gz, audit.log.1 and audit.log. */
export function writeRotatedSample(logPath: string): void {
  const oldest = writeChain(`${logPath}.2.gz`, [
    session('2026-12-01T08:00:00.000Z', 'laptop', 'session_start', {
      restrictions: ['/srv/borg/laptop'],
    }),
    session('2026-12-01T08:05:00.000Z', 'laptop', 'session_end', {
      repository: '/srv/borg/laptop',
      exit_code: 0,
      bytes_in: 1000,
      bytes_out: 10,
      rpc: { puts: 3, commit: true },
    }),
  ]);
  const middle = writeChain(
    `${logPath}.1`,
    [
      session('2026-12-02T08:00:00.000Z', 'server', 'session_refused', {
        decision: 'refuse',
        reason: 'forbidden-option: --restrict-to-path',
      }),
      session('2026-12-02T09:00:00.000Z', 'laptop', 'session_start', {}),
      session('2026-12-02T09:01:00.000Z', 'laptop', 'session_end', {
        repository: '/srv/borg/laptop',
        exit_code: 2,
        bytes_in: 500,
        bytes_out: 5,
        rpc: { gets: 2, commit: false },
      }),
    ],
    oldest,
  );
  writeChain(
    logPath,
    [
      session('2026-12-03T10:00:00.000Z', 'server', 'session_start', {}),
      session('2026-12-03T10:30:00.000Z', 'server', 'session_end', {
        repository: '/srv/borg/server',
        exit_code: 0,
        bytes_in: 7000,
        bytes_out: 70,
        rpc: { puts: 9, commit: true },
      }),
      session('2026-12-03T11:00:00.000Z', 'server', 'session_refused', {
        decision: 'refuse',
        reason: 'expired-key',
      }),
    ],
    middle,
  );
}

function session(
  time: string,
  client: string,
  event: string,
  fields: Record<string, unknown>,
): Record<string, unknown> {
  return {
    time,
    event,
    session_id: `${client}-${time}`,
    client_id: client,
    decision: 'allow',
    ...fields,
  };
}
