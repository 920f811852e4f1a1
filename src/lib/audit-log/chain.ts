import { createHash } from 'node:crypto';

/**
 * Serializes a JSON value with object keys sorted at every level and `undefined`
 * members dropped, so the same record always hashes the same way, whatever key order
 * its line was written or edited in.
 */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) {
    return `[${value.map((item) => canonicalJson(item ?? null)).join(',')}]`;
  }
  if (value !== null && typeof value === 'object') {
    const members: string[] = [];
    for (const key of Object.keys(value).sort()) {
      const member = (value as Record<string, unknown>)[key];
      if (member !== undefined) {
        members.push(`${JSON.stringify(key)}:${canonicalJson(member)}`);
      }
    }
    return `{${members.join(',')}}`;
  }
  return JSON.stringify(value);
}

/**
 * Computes a record's `hash`: SHA-256 (hex) over its `prev_hash` followed by the
 * canonical JSON of the record without its `hash` field.
 */
export function computeRecordHash(record: Record<string, unknown>): string {
  const { hash: _ignored, ...rest } = record;
  const prevHash = typeof rest.prev_hash === 'string' ? rest.prev_hash : '';
  return createHash('sha256').update(prevHash).update(canonicalJson(rest)).digest('hex');
}
