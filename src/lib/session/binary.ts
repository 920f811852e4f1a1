import type { Policy } from '../policy/schema.js';
import { SessionRefused } from './refusals.js';

export interface BorgBinary {
  path: string;
  major: 1 | 2;
}

/**
 * Maps the program the client asked for (`--remote-path`, default `borg`) to a server binary
 * listed in the policy. The client's word is only a lookup key: a client path never runs.
 */
export function chooseBinary(policy: Policy, requested: string): BorgBinary {
  const entry = Object.hasOwn(policy.borg.binaries, requested)
    ? policy.borg.binaries[requested]
    : undefined;
  if (entry === undefined) {
    throw new SessionRefused(
      'program-not-permitted',
      `program "${requested}" is not in borg.binaries`,
    );
  }
  return typeof entry === 'string'
    ? { path: entry, major: 1 }
    : { path: entry.path, major: entry.major };
}
