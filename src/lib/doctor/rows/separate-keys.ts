import { keyIdentity } from '../../policy/cross-checks.js';
import type { Policy } from '../../policy/schema.js';
import { repositoryUsers } from '../clients.js';
import type { DoctorContext } from '../context.js';
import { type Finding, finding, listNames, type RowResult } from '../report.js';

/**
 * Row 4: one SSH key per machine and one borg key per repository, so a stolen key opens as
 * little as possible.
 */
export function checkSeparateKeys(context: DoctorContext): RowResult {
  const findings = [
    ...findSharedSshKeys(context.policy),
    ...findSharedRepositories(context),
    ...findSharedBorgKeys(context),
  ];
  return {
    id: 'separate-keys',
    protection: 'Separate keys per repository',
    summary: `each SSH key belongs to one client, no repository is reachable by several clients unless marked shared, and the ${context.repositories.size} repositories have distinct ids and repokeys.`,
    findings,
  };
}

/** Repeats the policy loader's check for a key under two ids, so the report states the result. */
function findSharedSshKeys(policy: Policy): Finding[] {
  const owners = new Map<string, Set<string>>();
  for (const client of policy.clients) {
    for (const entry of client.keys) {
      const identity = keyIdentity(typeof entry === 'string' ? entry : entry.key);
      owners.set(identity, (owners.get(identity) ?? new Set()).add(client.id));
    }
  }
  const clients = [...owners.values()].filter((set) => set.size > 1).flatMap((set) => [...set]);
  if (clients.length === 0) {
    return [];
  }
  return [
    finding(
      'missing',
      { clients },
      `one SSH key is listed for several clients: ${listNames(clients)}.`,
      'Generate a separate key on each machine (`ssh-keygen -t ed25519`) and list each under one client only.',
    ),
  ];
}

function findSharedRepositories(context: DoctorContext): Finding[] {
  const findings: Finding[] = [];
  for (const [repository, users] of repositoryUsers(context.clients)) {
    const ids = [...new Set(users.map((user) => user.clientId))];
    if (ids.length < 2 || users.every((user) => user.shared)) {
      continue;
    }
    findings.push(
      finding(
        'partial',
        { clients: ids, repositories: [repository] },
        `${repository} is reachable by the keys of ${ids.length} clients (${listNames(ids)}) without \`shared: true\`.`,
        'Give each machine its own repository, or set `shared: true` on every entry for it if sharing is intended.',
      ),
    );
  }
  return findings;
}

/**
 * Repositories with the same id or the same repokey blob were copied or share one borg key.
 * With borg 1.x's AES-CTR, two repositories written with one key can reuse nonces.
 */
function findSharedBorgKeys(context: DoctorContext): Finding[] {
  const byKey = new Map<string, string[]>();
  const byId = new Map<string, string[]>();
  for (const info of context.repositories.values()) {
    if (!info.readable) {
      continue;
    }
    addTo(byKey, info.config.key, info.path);
    addTo(byId, info.config.id, info.path);
  }
  const findings: Finding[] = [];
  const reported = new Set<string>();
  for (const [label, groups] of [
    ['the same borg repokey', byKey],
    ['the same repository id (a copied repository)', byId],
  ] as const) {
    for (const paths of groups.values()) {
      const signature = paths.join('\n');
      if (paths.length < 2 || reported.has(signature)) {
        continue;
      }
      reported.add(signature);
      findings.push(
        finding(
          'missing',
          { repositories: paths },
          `${listNames(paths)} have ${label}; one passphrase or key file opens all of them, and writing to both with one key can reuse AES-CTR nonces.`,
          'Create a separate repository with `borg init` for each machine and move its backups there; never copy a repository directory to start a new one.',
        ),
      );
    }
  }
  return findings;
}

function addTo(groups: Map<string, string[]>, value: string | undefined, path: string): void {
  if (value === undefined) {
    return;
  }
  const paths = groups.get(value);
  if (paths === undefined) {
    groups.set(value, [path]);
  } else {
    paths.push(path);
  }
}
