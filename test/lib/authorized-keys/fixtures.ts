import { randomBytes } from 'node:crypto';
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

/** Returns an `ssh-ed25519 BASE64` key with random key bytes, so large policies need no keygen. */
export function randomPublicKey(): string {
  const type = Buffer.from('ssh-ed25519');
  const blob = Buffer.alloc(4 + type.length + 4 + 32);
  blob.writeUInt32BE(type.length, 0);
  type.copy(blob, 4);
  blob.writeUInt32BE(32, 4 + type.length);
  randomBytes(32).copy(blob, 8 + type.length);
  return `ssh-ed25519 ${blob.toString('base64')}`;
}
