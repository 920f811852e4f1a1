// Writes a chained audit log of COUNT records (default 1,000,000) over DIR/audit.log.7.gz
// ... audit.log.2.gz, audit.log.1 and audit.log, plus audit.log.head, for timing the audit
// queries. Records go through the writer's body builder (escaping, field limits), chain
// hash and field order, and mix sessions, refusals and checks of 300 clients over 60 days.
// Run: npx esbuild test/lib/audit-log/bench/generate-rotated-log.ts --bundle --platform=node
//        --format=esm --outfile=/tmp/generate-rotated-log.mjs
//      node /tmp/generate-rotated-log.mjs DIR [COUNT]   (about 50 s of CPU for 1,000,000)
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { buildRecordBody } from '../../../../src/lib/audit-log/body.js';
import { computeRecordHash } from '../../../../src/lib/audit-log/chain.js';
import { FIELD_ORDER, GENESIS_HASH } from '../../../../src/lib/audit-log/fields.js';
import type { AuditRecordInput } from '../../../../src/lib/audit-log/record.js';
import { checkAuditRecord } from '../../../../src/lib/audit-log/record-check.js';

const [dir, countText] = process.argv.slice(2);
const count = Number(countText ?? 1_000_000);
mkdirSync(dir!, { recursive: true });
if (readdirSync(dir!).length > 0) {
  throw new Error(`${dir} is not empty: pass a new or empty directory`);
}
const logPath = join(dir!, 'audit.log');
const files = [7, 6, 5, 4, 3, 2].map((n) => `${logPath}.${n}.gz`).concat([`${logPath}.1`, logPath]);

const CLIENTS = 300;
const start = Date.parse('2026-09-01T00:00:00Z');
// About 60 days for 1M records: one record every 5.2 s on average.
const step = (60 * 86_400_000) / count;
let prev = GENESIS_HASH;
let index = 0;
let seed = 12345;
function random(): number {
  seed = (seed * 1103515245 + 12345) & 0x7fffffff;
  return seed / 0x7fffffff;
}

function fingerprint(client: number): string {
  return `SHA256:${Buffer.from(`key-of-client-${client}-padding-x`).toString('base64').slice(0, 43)}`;
}

/** Returns the inputs of the next event(s): a session pair, a refusal or a check. */
function nextInputs(): AuditRecordInput[] {
  const client = Math.floor(random() * CLIENTS);
  const clientId = `host-${client}.example.org`;
  const repository = `/srv/borg/${clientId}/${random() < 0.7 ? 'main' : 'etc'}`;
  const session = {
    session_id: `${(index * 2654435761) >>> 0}`.padStart(10, '0'),
    client_id: clientId,
    key_fingerprint: fingerprint(client),
    client_ip: `192.0.2.${client % 250}`,
    client_port: 40000 + Math.floor(random() * 20000),
    command: `borg serve --umask=077 --info`,
  };
  const roll = random();
  if (roll < 0.03) {
    const odd = random() < 0.2;
    return [
      {
        ...session,
        client_id: odd ? null : clientId,
        command: odd ? 'rm -rf /\u001b[2J' : 'borg serve --restrict-to-path /',
        event: 'session_refused',
        decision: 'refuse',
        reason: odd
          ? 'unknown-key: no client for this key'
          : 'forbidden-option: --restrict-to-path',
        duration_ms: Math.floor(random() * 30),
      },
    ];
  }
  if (roll < 0.035) {
    return [
      {
        event: 'check',
        client_id: clientId,
        repository,
        decision: 'allow',
        reason: 'ok: borg check --repository-only',
        exit_code: 0,
        duration_ms: Math.floor(random() * 600000),
      },
    ];
  }
  const mode = random() < 0.8 ? 'append-only' : 'read-only';
  const commit = mode === 'append-only' && random() < 0.9;
  return [
    {
      ...session,
      event: 'session_start',
      decision: 'allow',
      repository,
      restrictions: [`--restrict-to-repository ${repository}`],
      mode,
    },
    {
      ...session,
      event: 'session_end',
      decision: 'allow',
      repository,
      mode,
      exit_code: 0,
      signal: null,
      duration_ms: Math.floor(random() * 3_600_000),
      bytes_in: Math.floor(random() * 5e9),
      bytes_out: Math.floor(random() * 5e7),
      rpc: {
        puts: commit ? Math.floor(random() * 20000) : 0,
        gets: Math.floor(random() * 500),
        deletes: 0,
        commit,
        refused_method: null,
      },
    },
  ];
}

function serialize(input: AuditRecordInput): string {
  const body = buildRecordBody(input, 'backup1');
  body.time = new Date(start + Math.floor(index * step)).toISOString();
  const unhashed = { ...body, prev_hash: prev };
  const record: Record<string, unknown> = { ...unhashed, hash: computeRecordHash(unhashed) };
  if (index % 10_000 === 0) {
    const issue = checkAuditRecord(record);
    if (issue !== undefined) {
      throw new Error(`generated an invalid record: ${issue.path}: ${issue.message}`);
    }
  }
  const ordered: Record<string, unknown> = {};
  for (const key of FIELD_ORDER) {
    if (key in record) {
      ordered[key] = record[key];
    }
  }
  prev = record.hash as string;
  index++;
  return `${JSON.stringify(ordered)}\n`;
}

let queue: AuditRecordInput[] = [];
let bytes = 0;
for (let part = 0; part < files.length; part++) {
  const end = Math.round((count * (part + 1)) / files.length);
  const lines: string[] = [];
  while (index < end) {
    if (queue.length === 0) {
      queue = nextInputs();
    }
    lines.push(serialize(queue.shift()!));
  }
  const text = lines.join('');
  bytes += Buffer.byteLength(text);
  const file = files[part]!;
  writeFileSync(file, file.endsWith('.gz') ? gzipSync(text) : text);
}
writeFileSync(`${logPath}.head`, `${prev}\n`);
console.error(`wrote ${index} records, ${bytes} bytes uncompressed, to ${files.length} files`);
