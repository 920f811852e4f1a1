import type { Client, Mode } from './schema.js';

/** The one policy entry a session was granted, after the requested path was resolved. */
export interface Grant {
  kind: 'repository' | 'path';
  /** The path from the policy; `borg serve` gets it as its restriction. */
  path: string;
  name?: string;
  mode: Mode;
  storageQuota?: string;
}

/** Returns every grant a client's policy entry lists, with per-repository overrides applied. */
export function listGrants(client: Client): Grant[] {
  const grants: Grant[] = client.repositories.map((entry) => {
    if (typeof entry === 'string') {
      return {
        kind: 'repository',
        path: entry,
        mode: client.mode,
        storageQuota: client.storage_quota,
      };
    }
    return {
      kind: 'repository',
      path: entry.path,
      name: entry.name,
      mode: entry.mode ?? client.mode,
      storageQuota: entry.storage_quota ?? client.storage_quota,
    };
  });
  for (const path of client.paths) {
    grants.push({ kind: 'path', path, mode: client.mode, storageQuota: client.storage_quota });
  }
  return grants;
}

/**
 * Finds the grant for a resolved repository path: an exact repository entry first, then the
 * deepest `paths` entry containing it. borg applies the same restriction again after spawning.
 */
export function matchGrant(client: Client, resolvedPath: string): Grant | undefined {
  const grants = listGrants(client);
  const exact = grants.find((grant) => grant.kind === 'repository' && grant.path === resolvedPath);
  if (exact !== undefined) {
    return exact;
  }
  let best: Grant | undefined;
  for (const grant of grants) {
    // `/srv/a` must not grant `/srv/ab`, so compare with a trailing separator as borg does.
    const inside = grant.kind === 'path' && `${resolvedPath}/`.startsWith(withSlash(grant.path));
    if (inside && (best === undefined || grant.path.length > best.path.length)) {
      best = grant;
    }
  }
  return best;
}

function withSlash(path: string): string {
  return path.endsWith('/') ? path : `${path}/`;
}
