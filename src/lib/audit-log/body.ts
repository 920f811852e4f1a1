import { AuditLogError } from './errors.js';
import { DEFAULT_MAX_LENGTH, escapeUntrusted } from './escape.js';
import { FIELD_MAX_LENGTH, GENESIS_HASH, SCHEMA_VERSION } from './fields.js';
import type { AuditRecord, AuditRecordInput } from './record.js';
import { checkAuditRecord } from './record-check.js';

/**
 * Builds the body of a record, everything but the chain fields: the writer's own fields
 * (`schema_version`, `time`, `host`) and the caller's fields with every string escaped.
 */
export function buildRecordBody(input: AuditRecordInput, host: string): Record<string, unknown> {
  const body: Record<string, unknown> = {
    schema_version: SCHEMA_VERSION,
    time: new Date().toISOString(),
    host,
  };
  for (const [key, value] of Object.entries(input)) {
    const maxLength = FIELD_MAX_LENGTH[key as keyof AuditRecord] ?? DEFAULT_MAX_LENGTH;
    body[key] = escapeStrings(value, maxLength);
  }
  return body;
}

function escapeStrings(value: unknown, maxLength: number): unknown {
  if (typeof value === 'string') {
    return escapeUntrusted(value, maxLength);
  }
  if (Array.isArray(value)) {
    return value.map((item) => escapeStrings(item, maxLength));
  }
  if (value !== null && typeof value === 'object') {
    const copy: Record<string, unknown> = {};
    for (const [key, member] of Object.entries(value)) {
      copy[key] = escapeStrings(member, maxLength);
    }
    return copy;
  }
  return value;
}

/**
 * Checks a record body against the audit record schema, with placeholder chain fields, and
 * throws `AuditLogError` naming the first invalid field. The writer calls it before taking
 * the lock, so the time under the lock stays short.
 */
export function checkRecordBody(file: string, body: Record<string, unknown>): void {
  const issue = checkAuditRecord({ ...body, prev_hash: GENESIS_HASH, hash: GENESIS_HASH });
  if (issue !== undefined) {
    throw new AuditLogError(
      file,
      `record does not match the schema at ${issue.path}: ${issue.message}`,
    );
  }
}
