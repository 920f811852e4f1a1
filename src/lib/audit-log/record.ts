import { z } from 'zod';
import { PRINTABLE_PATTERN } from './escape.js';
import { AUDIT_EVENTS, DECISIONS, SCHEMA_VERSION, SHA256_HEX_PATTERN } from './fields.js';

// The schema for readers, `audit schema` and tests. The writer checks records with
// record-check.ts instead, so `serve` does not load zod. A test keeps the two in agreement.

export { DEFAULT_MAX_LENGTH, escapeUntrusted } from './escape.js';
export {
  AUDIT_EVENTS,
  type AuditEvent,
  FIELD_MAX_LENGTH,
  FIELD_ORDER,
  GENESIS_HASH,
  SCHEMA_VERSION,
} from './fields.js';

const sha256Hex = z.string().regex(SHA256_HEX_PATTERN, 'expected 64 lowercase hex digits');

// A hand-written record with a raw ESC or bidi override would reach an auditor's terminal.
const printable = z
  .string()
  .regex(PRINTABLE_PATTERN, 'contains unescaped control or invisible characters');

const count = z.int().nonnegative();

export const rpcSummarySchema = z.strictObject({
  puts: count.optional(),
  gets: count.optional(),
  deletes: count.optional(),
  /** True when the client committed a transaction, so data was written. */
  commit: z.boolean().optional(),
  /** First RPC method the filter rejected, if any. */
  refused_method: printable.nullable().optional(),
});

export const auditRecordSchema = z.strictObject({
  schema_version: z.literal(SCHEMA_VERSION),
  time: z.iso.datetime(),
  event: z.enum(AUDIT_EVENTS),
  session_id: printable.optional(),
  host: printable,
  client_id: printable.nullable().optional(),
  key_fingerprint: printable.optional(),
  client_ip: printable.optional(),
  client_port: z.int().min(0).max(65535).optional(),
  /** The requested SSH_ORIGINAL_COMMAND, escaped. */
  command: printable.optional(),
  decision: z.enum(DECISIONS).optional(),
  reason: printable.optional(),
  /** Resolved repository path that borg was allowed to open. */
  repository: printable.optional(),
  restrictions: z.array(printable).optional(),
  mode: printable.optional(),
  exit_code: z.int().nullable().optional(),
  signal: printable.nullable().optional(),
  duration_ms: count.optional(),
  bytes_in: count.optional(),
  bytes_out: count.optional(),
  rpc: rpcSummarySchema.optional(),
  prev_hash: sha256Hex,
  hash: sha256Hex,
});

export type AuditRecord = z.infer<typeof auditRecordSchema>;
export type RpcSummary = z.infer<typeof rpcSummarySchema>;

/** Fields a caller passes to `AuditLog.append`. The writer adds the others. */
export type AuditRecordInput = Omit<
  AuditRecord,
  'time' | 'schema_version' | 'prev_hash' | 'hash' | 'host'
>;

/** Returns the JSON Schema of one record line (draft 2020-12). */
export function auditRecordJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(auditRecordSchema, { io: 'input' }) as Record<string, unknown>;
}
