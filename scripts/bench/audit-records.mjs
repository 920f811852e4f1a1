// Writes a large audit log with a valid hash chain, spread over rotated files, for the audit
// figures. Hashes and field order come from borg-gate's own sources, bundled by esbuild.
import { createWriteStream } from 'node:fs';
import { join, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { build } from 'esbuild';

const SOURCES = resolve(import.meta.dirname, '../../src/lib/audit-log');

/** Clients the records are spread over, so the summary has this many rows. */
export const AUDIT_CLIENTS = 1000;

/** Every this many connections, one is refused before borg starts (one record, no end). */
const REFUSAL_EVERY = 20;

/** Log files oldest first, each with an equal share of the records, as logrotate leaves them. */
const FILE_NAMES = ['audit.log.3.gz', 'audit.log.2.gz', 'audit.log.1', 'audit.log'];

/** Bundles the chain hash, the field order and the head file writer into `dir`, and loads them. */
async function loadChainCode(dir) {
  const outfile = join(dir, 'audit-chain.mjs');
  await build({
    stdin: {
      contents: [
        `export { computeRecordHash } from '${SOURCES}/chain.ts';`,
        `export { FIELD_ORDER, GENESIS_HASH, SCHEMA_VERSION } from '${SOURCES}/fields.ts';`,
        `export { writeHead } from '${SOURCES}/tail.ts';`,
      ].join('\n'),
      resolveDir: SOURCES,
      loader: 'ts',
    },
    bundle: true,
    format: 'esm',
    platform: 'node',
    outfile,
    logLevel: 'warning',
  });
  return import(outfile);
}

function clientName(index) {
  return `client-${String(index).padStart(5, '0')}`;
}

/** Yields record bodies without chain fields: sessions (start and end) and some refusals. */
function* recordBodies(count, schemaVersion) {
  const startTime = Date.parse('2026-01-01T00:00:00Z');
  let produced = 0;
  for (let connection = 0; produced < count; connection += 1) {
    // Each pass over the clients shifts by one, so refused connections reach every client.
    const pass = Math.floor(connection / AUDIT_CLIENTS);
    const client = clientName((connection * 7 + pass) % AUDIT_CLIENTS);
    const common = {
      schema_version: schemaVersion,
      time: new Date(startTime + produced * 1500).toISOString(),
      session_id: connection.toString(16).padStart(16, '0'),
      host: 'bench-host',
      client_id: client,
      key_fingerprint: `SHA256:${Buffer.from(client.padEnd(32, '.')).toString('base64')}`,
      client_ip: `192.0.2.${connection % 250}`,
      client_port: 40000 + (connection % 20000),
      command: 'borg serve --umask=077',
    };
    const repository = `/srv/borg/${client}`;
    if (connection % REFUSAL_EVERY === REFUSAL_EVERY - 1) {
      yield {
        ...common,
        event: 'session_refused',
        decision: 'refuse',
        reason: 'key-expired: expired',
        duration_ms: 3,
      };
      produced += 1;
      continue;
    }
    yield {
      ...common,
      event: 'session_start',
      decision: 'allow',
      repository,
      restrictions: [`--restrict-to-repository ${repository}`],
      mode: 'append-only',
    };
    produced += 1;
    if (produced === count) {
      return;
    }
    yield {
      ...common,
      time: new Date(startTime + produced * 1500).toISOString(),
      event: 'session_end',
      decision: 'allow',
      repository,
      mode: 'append-only',
      exit_code: 0,
      signal: null,
      duration_ms: 1000 + (connection % 5000),
      bytes_in: 1_000_000 + connection,
      bytes_out: 20_000 + connection,
      rpc: { puts: 40 + (connection % 100), gets: 3, deletes: 0, commit: true },
    };
    produced += 1;
  }
}

/** Adds `prev_hash` and `hash` and returns the line in the writer's field order. */
function chainLine(chain, body, prevHash) {
  const unhashed = { ...body, prev_hash: prevHash };
  const record = { ...unhashed, hash: chain.computeRecordHash(unhashed) };
  const ordered = {};
  for (const key of chain.FIELD_ORDER) {
    if (key in record) {
      ordered[key] = record[key];
    }
  }
  return { line: `${JSON.stringify(ordered)}\n`, hash: record.hash };
}

/** Yields chunks of about 1 MiB of lines for one file, advancing `state.prevHash`. */
async function* fileChunks(chain, bodies, lines, state) {
  let chunk = '';
  for (let index = 0; index < lines; index += 1) {
    const next = bodies.next();
    if (next.done) {
      break;
    }
    const { line, hash } = chainLine(chain, next.value, state.prevHash);
    state.prevHash = hash;
    state.counts[next.value.event] = (state.counts[next.value.event] ?? 0) + 1;
    chunk += line;
    if (chunk.length >= 1 << 20) {
      yield chunk;
      chunk = '';
    }
  }
  if (chunk.length > 0) {
    yield chunk;
  }
}

/**
 * Writes `count` records into `dir` (audit.log, audit.log.1 and two gzip-compressed older
 * copies) plus the head file, and returns the log path and the number of records per event.
 */
export async function writeAuditLog(dir, count, chain) {
  const bodies = recordBodies(count, chain.SCHEMA_VERSION);
  const state = { prevHash: chain.GENESIS_HASH, counts: {} };
  const share = Math.ceil(count / FILE_NAMES.length);
  for (const name of FILE_NAMES) {
    const file = join(dir, name);
    const chunks = fileChunks(chain, bodies, share, state);
    if (name.endsWith('.gz')) {
      // NOTE: level 1 keeps generating fast. logrotate runs gzip at its default level 6, whose
      // files are smaller and may take a little longer to decompress than these.
      await pipeline(chunks, createGzip({ level: 1 }), createWriteStream(file, { mode: 0o640 }));
    } else {
      await pipeline(chunks, createWriteStream(file, { mode: 0o640 }));
    }
  }
  const logPath = join(dir, 'audit.log');
  chain.writeHead(logPath, state.prevHash);
  return { logPath, counts: state.counts };
}

export { loadChainCode };
