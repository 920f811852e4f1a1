import { type Grant, listGrants } from '../policy/match.js';
import type { Client, Policy, RepositoryEntry } from '../policy/schema.js';

/** A client that gets an authorized_keys line, with its grants resolved. */
export interface ActiveClient {
  client: Client;
  grants: Grant[];
}

/** Lists the clients that can log in at `now`: not disabled and not expired. */
export function activeClients(policy: Policy, now: Date): ActiveClient[] {
  return policy.clients
    .filter(
      (client) => !client.disabled && !(client.expires !== undefined && client.expires <= now),
    )
    .map((client) => ({ client, grants: listGrants(client) }));
}

export function canWrite(grant: Grant): boolean {
  return grant.mode !== 'read-only';
}

/** Maps each repository path of a client to its entry object, to read fields such as `shared`. */
export function repositoryEntries(
  client: Client,
): Map<string, Exclude<RepositoryEntry, string> | undefined> {
  const entries = new Map<string, Exclude<RepositoryEntry, string> | undefined>();
  for (const entry of client.repositories) {
    if (typeof entry === 'string') {
      entries.set(entry, undefined);
    } else {
      entries.set(entry.path, entry);
    }
  }
  return entries;
}

/** Groups the repository grants of all clients by path, noting whether each entry sets `shared`. */
export function repositoryUsers(
  clients: ActiveClient[],
): Map<string, Array<{ clientId: string; grant: Grant; shared: boolean }>> {
  const users = new Map<string, Array<{ clientId: string; grant: Grant; shared: boolean }>>();
  for (const { client, grants } of clients) {
    const entries = repositoryEntries(client);
    for (const grant of grants) {
      if (grant.kind !== 'repository') {
        continue;
      }
      const list = users.get(grant.path) ?? [];
      list.push({ clientId: client.id, grant, shared: entries.get(grant.path)?.shared === true });
      users.set(grant.path, list);
    }
  }
  return users;
}

/** Tells whether `parent` is `child` or one of its ancestor directories. */
export function containsPath(parent: string, child: string): boolean {
  if (parent === '/') {
    return true;
  }
  return child === parent || child.startsWith(`${parent}/`);
}
