import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Policy, type PolicyInput, policySchema } from '../../../src/lib/policy/schema.js';
import { generateKey } from './ssh-keygen.js';

/** Creates a temporary directory with `count` Ed25519 key pairs named key0, key1, ... */
export function makeKeys(count: number): { dir: string; keys: string[] } {
  const dir = mkdtempSync(join(tmpdir(), 'borg-gate-keys-'));
  const keys = Array.from({ length: count }, (_, index) =>
    generateKey(dir, `key${index}`, ['-t', 'ed25519']),
  );
  return { dir, keys };
}

export function makePolicy(clients: PolicyInput['clients']): Policy {
  return policySchema.parse({ version: 1, clients });
}
