import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AUDIT_EVENTS, auditRecordJsonSchema } from '../../../src/lib/audit-log/record.js';

const DOC = readFileSync(join(import.meta.dirname, '../../../docs/audit-log.md'), 'utf8');

describe('docs/audit-log.md', () => {
  it('contains the current JSON Schema', () => {
    const section = DOC.slice(DOC.indexOf('## JSON Schema'));
    const block = /```json\n([\s\S]*?)\n```/.exec(section);

    expect(block).not.toBeNull();
    expect(JSON.parse(block![1]!)).toEqual(auditRecordJsonSchema());
  });

  it.each(AUDIT_EVENTS)('documents event %s', (event) => {
    expect(DOC).toContain(`| \`${event}\` |`);
  });
});
