// The audit record's field names and constants, without zod, so the write path that `serve`
// runs on every connection does not load it. record.ts builds the zod schema from these, and a
// test checks that both name the same fields in the same order.
import type { AuditRecord, RpcSummary } from './record.js';

export const SCHEMA_VERSION = 1;

/** Record kinds. Adding one is one entry here plus a line in docs/audit-log.md. */
export const AUDIT_EVENTS = [
  'session_start',
  'session_refused',
  'session_end',
  'check',
  'keys_write',
] as const;
export type AuditEvent = (typeof AUDIT_EVENTS)[number];

export const DECISIONS = ['allow', 'refuse'] as const;

/** Form of `prev_hash` and `hash`: a SHA-256 digest in lowercase hex. */
export const SHA256_HEX_PATTERN = /^[0-9a-f]{64}$/;

/** `prev_hash` of the first record of a chain that has no predecessor. */
export const GENESIS_HASH = '0'.repeat(64);

/** Field order of a written line, so people read the same layout on every line. */
export const FIELD_ORDER = [
  'schema_version',
  'time',
  'event',
  'session_id',
  'host',
  'client_id',
  'key_fingerprint',
  'client_ip',
  'client_port',
  'command',
  'decision',
  'reason',
  'repository',
  'restrictions',
  'mode',
  'exit_code',
  'signal',
  'duration_ms',
  'bytes_in',
  'bytes_out',
  'rpc',
  'prev_hash',
  'hash',
] as const satisfies ReadonlyArray<keyof AuditRecord>;

/** Field order of the `rpc` summary object. */
export const RPC_FIELD_ORDER = [
  'puts',
  'gets',
  'deletes',
  'commit',
  'refused_method',
] as const satisfies ReadonlyArray<keyof RpcSummary>;

/** Per-field limits for `escapeUntrusted`. Fields not listed use `DEFAULT_MAX_LENGTH`. */
export const FIELD_MAX_LENGTH: Partial<Record<keyof AuditRecord, number>> = {
  command: 4096,
  repository: 4096,
};
