import { describe, expect, it } from 'vitest';
import { keyIdentity } from '../../../src/lib/policy/cross-checks.js';

/** Computes the identity the plain way: the first two words after trimming. */
function splitIdentity(line: string): string {
  const words = line.trim().split(/\s+/);
  return `${words[0] ?? ''} ${words[1] ?? ''}`;
}

describe('keyIdentity', () => {
  it.each([
    ['ssh-ed25519 AAAA comment here', 'ssh-ed25519 AAAA'],
    ['ssh-ed25519 AAAA', 'ssh-ed25519 AAAA'],
    ['  ssh-ed25519\tAAAA  comment', 'ssh-ed25519 AAAA'],
    ['ssh-ed25519  AAAA', 'ssh-ed25519 AAAA'],
    ['ssh-ed25519 AAAA\u00a0comment', 'ssh-ed25519 AAAA'],
    ['ssh-ed25519', 'ssh-ed25519 '],
    ['', ' '],
    ['   ', ' '],
  ])('%j', (line, expected) => {
    expect(keyIdentity(line)).toBe(expected);
    expect(keyIdentity(line)).toBe(splitIdentity(line));
  });
});
