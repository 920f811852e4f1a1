import { realpathSync } from 'node:fs';
import { listGrants } from './match.js';
import type { Policy } from './schema.js';

/**
 * Returns a problem for every grant path that exists but resolves elsewhere: a symlink in a
 * policy path would make the policy name one directory while borg serves another.
 */
export function checkGrantPathsOnDisk(policy: Policy): string[] {
  const problems: string[] = [];
  for (const [index, client] of policy.clients.entries()) {
    for (const grant of listGrants(client)) {
      const real = realpathOrUndefined(grant.path);
      if (real !== undefined && real !== grant.path) {
        problems.push(
          `clients[${index}] (${client.id}): ${grant.path} resolves to ${real} through a symlink, so serve refuses it; replace the symlink with the real directory, or write ${real} if that target is intended`,
        );
      }
    }
  }
  return problems;
}

function realpathOrUndefined(path: string): string | undefined {
  try {
    return realpathSync(path);
  } catch {
    return undefined;
  }
}
