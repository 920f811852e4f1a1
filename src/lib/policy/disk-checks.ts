import { realpathSync } from 'node:fs';
import { listGrants } from './match.js';
import { resolveRealPath } from './real-path.js';
import type { Policy } from './schema.js';

/**
 * Returns a problem for every grant path that resolves elsewhere: a symlink in a policy path
 * would make the policy name one directory while borg serves another. A path that does not
 * exist yet counts as resolveRealPath resolves it, since borg resolves it the same way once the
 * repository is created, and serve then refuses it.
 */
export function checkGrantPathsOnDisk(policy: Policy): string[] {
  const problems: string[] = [];
  for (const [index, client] of policy.clients.entries()) {
    for (const grant of listGrants(client)) {
      const real = resolveRealPath(grant.path);
      if (real !== grant.path) {
        problems.push(
          `clients[${index}] (${client.id}): ${grant.path} resolves to ${real} through a symlink, so serve refuses it; replace the symlink with the real directory, or write ${real} if that target is intended`,
        );
      }
    }
  }
  return problems;
}

/** Returns the real path of `path` when a symlink makes it differ, else undefined (also when missing). */
export function symlinkTarget(path: string): string | undefined {
  let real: string;
  try {
    real = realpathSync(path);
  } catch {
    return undefined;
  }
  return real === path ? undefined : real;
}
