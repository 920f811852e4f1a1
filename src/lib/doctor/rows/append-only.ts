import { canWrite } from '../clients.js';
import type { DoctorContext } from '../context.js';
import { type Finding, finding, listNames, type RowResult } from '../report.js';

/**
 * Row 1: a client that can write should only be able to append, so a compromised client
 * cannot delete or overwrite its own backups. Either the policy mode or the repository's own
 * `append_only = 1` enforces it.
 */
export function checkAppendOnly(context: DoctorContext): RowResult {
  const risky = new Map<string, Set<string>>();
  const riskyPaths = new Map<string, Set<string>>();
  let writers = 0;
  let appendOnlyWriters = 0;
  for (const { client, grants } of context.clients) {
    const writable = grants.filter(canWrite);
    if (writable.length === 0) {
      continue;
    }
    writers++;
    let allAppendOnly = true;
    for (const grant of writable) {
      if (grant.mode === 'append-only') {
        continue;
      }
      const info = context.repositories.get(grant.path);
      // borg serve rejects deletes by itself in a repository whose config sets append_only = 1.
      if (grant.kind === 'repository' && info?.readable === true && info.config.appendOnly) {
        continue;
      }
      allAppendOnly = false;
      const target = grant.kind === 'repository' ? risky : riskyPaths;
      const set = target.get(client.id) ?? new Set<string>();
      set.add(grant.path);
      target.set(client.id, set);
    }
    if (allAppendOnly) {
      appendOnlyWriters++;
    }
  }
  const findings: Finding[] = [];
  const noneProtected = writers > 0 && appendOnlyWriters === 0;
  if (risky.size > 0) {
    const repositories = [...risky.values()].flatMap((set) => [...set]);
    findings.push(
      finding(
        noneProtected ? 'missing' : 'partial',
        { clients: risky.keys(), repositories },
        `read-write keys (risk: a compromised client can delete its backups): ${listNames([...risky.keys()])} on repositories without append_only = 1.`,
        'Set `mode: append-only` for these clients (keep read-write only for a separate prune key on a trusted host), or run `borg config REPO append_only 1` on the server.',
      ),
    );
  }
  if (riskyPaths.size > 0) {
    const paths = [...riskyPaths.values()].flatMap((set) => [...set]);
    findings.push(
      finding(
        noneProtected ? 'missing' : 'partial',
        { clients: riskyPaths.keys(), repositories: paths },
        `read-write path grants: ${listNames([...riskyPaths.keys()])} may create and delete in any repository under ${listNames(paths)}.`,
        'Set `mode: append-only` for these clients, or list their repositories one by one and set append_only = 1 in each.',
      ),
    );
  }
  return {
    id: 'append-only',
    protection: 'Append-only for backup clients',
    summary:
      writers === 0
        ? 'no active client can write.'
        : `all ${writers} clients that can write are append-only (policy mode or repository config).`,
    findings,
  };
}
