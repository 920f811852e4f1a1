import { canWrite, repositoryUsers } from '../clients.js';
import type { DoctorContext } from '../context.js';
import { type Finding, finding, listNames, type RowResult } from '../report.js';

/**
 * Row 3: each client reaches only its own repositories. borg-gate always passes
 * --restrict-to-repository or --restrict-to-path, so what remains to check is what those
 * restrictions cover.
 */
export function checkRestriction(context: DoctorContext): RowResult {
  const findings: Finding[] = [];
  const unrestricted: string[] = [];
  const rootPaths: string[] = [];
  for (const { client, grants } of context.clients) {
    if (grants.length === 0) {
      unrestricted.push(client.id);
    }
    if (grants.some((grant) => grant.kind === 'path' && grant.path === '/')) {
      rootPaths.push(client.id);
    }
  }
  if (unrestricted.length > 0) {
    findings.push(
      finding(
        'partial',
        { clients: unrestricted },
        `clients without any repository or path (borg-gate rejects all their requests): ${listNames(unrestricted)}.`,
        'List the repository each client backs up to under `repositories`, or set `disabled: true`.',
      ),
    );
  }
  if (rootPaths.length > 0) {
    findings.push(
      finding(
        'missing',
        { clients: rootPaths },
        `clients restricted to path "/" (any repository on the server): ${listNames(rootPaths)}.`,
        'Replace `paths: [/]` with the client’s own repository under `repositories`.',
      ),
    );
  }
  findings.push(...findParentGrants(context), ...findSharedWritable(context));
  return {
    id: 'restriction',
    protection: 'Restrict to repository or path',
    summary: `all ${context.clients.length} active clients are restricted to their own repositories or paths.`,
    findings,
  };
}

/** Finds `paths` entries that contain another client's repository, which their owner can then open. */
function findParentGrants(context: DoctorContext): Finding[] {
  const pathOwners = pathGrantOwners(context);
  const findings: Finding[] = [];
  for (const [repository, users] of repositoryUsers(context.clients)) {
    const listed = new Set(users.map((user) => user.clientId));
    const reaching = ownersAtOrAbove(pathOwners, repository).filter((owner) => !listed.has(owner));
    if (reaching.length > 0) {
      findings.push(
        finding(
          'missing',
          { clients: [...reaching, ...listed], repositories: [repository] },
          `${listNames(reaching)} can open ${repository} of ${listNames([...listed])} through a parent path.`,
          'Narrow the `paths` entry to a directory that contains only that client’s repositories.',
        ),
      );
    }
  }
  return [...findings, ...findNestedPaths(pathOwners)];
}

/**
 * Finds `paths` entries inside, or equal to, another client's `paths` entry, because the outer
 * client can open every repository the inner one creates there.
 */
function findNestedPaths(pathOwners: Map<string, string[]>): Finding[] {
  const findings: Finding[] = [];
  for (const [path, owners] of pathOwners) {
    const parent = path.slice(0, path.lastIndexOf('/'));
    const outer = ownersAtOrAbove(pathOwners, parent).filter((owner) => !owners.includes(owner));
    const reaching = owners.length > 1 ? [...new Set([...outer, ...owners])] : outer;
    if (reaching.length === 0) {
      continue;
    }
    findings.push(
      finding(
        'missing',
        { clients: [...reaching, ...owners], repositories: [path] },
        `${listNames(reaching)} can open the repositories that ${listNames(owners)} create under ${path}, because their \`paths\` entries overlap.`,
        'Give each client its own directory under `paths`, none inside another’s.',
      ),
    );
  }
  return findings;
}

function pathGrantOwners(context: DoctorContext): Map<string, string[]> {
  const pathOwners = new Map<string, string[]>();
  for (const { client, grants } of context.clients) {
    for (const grant of grants) {
      // A root grant is reported on its own, and would make every pair of clients nested.
      if (grant.kind === 'path' && grant.path !== '/') {
        const owners = pathOwners.get(grant.path) ?? [];
        if (!owners.includes(client.id)) {
          owners.push(client.id);
        }
        pathOwners.set(grant.path, owners);
      }
    }
  }
  return pathOwners;
}

/** Returns the owners of `paths` entries at `path` or above it: O(depth) lookups, not every pair. */
function ownersAtOrAbove(pathOwners: Map<string, string[]>, path: string): string[] {
  const owners = new Set<string>();
  for (let dir = path; dir !== '/' && dir !== ''; dir = dir.slice(0, dir.lastIndexOf('/'))) {
    for (const owner of pathOwners.get(dir) ?? []) {
      owners.add(owner);
    }
  }
  return [...owners];
}

/** Several writers in one repository can each corrupt or, when read-write, delete the others' archives. */
function findSharedWritable(context: DoctorContext): Finding[] {
  const findings: Finding[] = [];
  for (const [repository, users] of repositoryUsers(context.clients)) {
    const writers = users.filter((user) => canWrite(user.grant));
    if (writers.length < 2 || writers.every((user) => user.shared)) {
      continue;
    }
    const unmarked = writers.filter((user) => !user.shared).map((user) => user.clientId);
    findings.push(
      finding(
        'partial',
        { clients: writers.map((user) => user.clientId), repositories: [repository] },
        `${repository} is writable by ${writers.length} clients (${listNames(writers.map((user) => user.clientId))}) and not marked shared by ${listNames(unmarked)}.`,
        'Give each client its own repository, or set `shared: true` on every client’s entry for this repository if sharing is intended.',
      ),
    );
  }
  return findings;
}
