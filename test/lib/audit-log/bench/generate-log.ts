// Writes a valid chained audit log of COUNT records split over audit.log.3.gz,
// audit.log.2.gz, audit.log.1 and audit.log (30/30/20/20 %), for timing the readers.
// Run: node <bundled file> DIR [COUNT]
import { createWriteStream, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import { createGzip } from 'node:zlib';
import { computeRecordHash } from '../../../../src/lib/audit-log/chain.js';
import { GENESIS_HASH } from '../../../../src/lib/audit-log/record.js';

const [dir, countText] = process.argv.slice(2);
const count = Number(countText ?? 1_000_000);
const logPath = join(dir!, 'audit.log');
const parts = [
  { file: `${logPath}.3.gz`, share: 0.3 },
  { file: `${logPath}.2.gz`, share: 0.3 },
  { file: `${logPath}.1`, share: 0.2 },
  { file: logPath, share: 0.2 },
];
const start = Date.parse('2026-01-01T00:00:00Z');
let prev = GENESIS_HASH;
let index = 0;

for (const part of parts) {
  const file = createWriteStream(part.file);
  const gzip = part.file.endsWith('.gz') ? createGzip() : undefined;
  gzip?.pipe(file);
  const sink: NodeJS.WritableStream = gzip ?? file;
  const end = Math.min(count, index + Math.round(count * part.share));
  for (; index < end; index++) {
    const line = nextLine(index);
    if (!sink.write(line)) {
      await new Promise<void>((resolve) => sink.once('drain', () => resolve()));
    }
  }
  sink.end();
  await new Promise<void>((resolve) => (file as WriteStream).once('close', () => resolve()));
}

function nextLine(position: number): string {
  const client = `client-${position % 200}`;
  const session = Math.floor(position / 2);
  const isEnd = position % 2 === 1;
  const refused = position % 97 === 0;
  const record: Record<string, unknown> = {
    schema_version: 1,
    time: new Date(start + position * 1000).toISOString(),
    event: eventOf(refused, isEnd),
    session_id: `s-${session}`,
    host: 'backup1',
    client_id: client,
    key_fingerprint: 'SHA256:uQ4bV0a8YyXZ2dY2cJ6m7m3wq0Xc1kq9m2M3y9pYt3A',
    client_ip: '192.0.2.10',
    client_port: 40000 + (position % 20000),
    command: 'borg serve --umask=077 --info',
    decision: refused ? 'refuse' : 'allow',
    repository: `/srv/borg/${client}/main`,
    mode: 'append-only',
  };
  if (refused) {
    record.reason = 'forbidden-option: --restrict-to-path';
  } else if (isEnd) {
    Object.assign(record, {
      exit_code: 0,
      duration_ms: 5000,
      bytes_in: 1_000_000,
      bytes_out: 20_000,
      rpc: { puts: 12, gets: 3, deletes: 0, commit: position % 4 === 1 },
    });
  }
  record.prev_hash = prev;
  record.hash = computeRecordHash(record);
  prev = record.hash as string;
  return `${JSON.stringify(record)}\n`;
}

function eventOf(refused: boolean, isEnd: boolean): string {
  if (refused) {
    return 'session_refused';
  }
  return isEnd ? 'session_end' : 'session_start';
}
