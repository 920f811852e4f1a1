import { posix } from 'node:path';
import type { Policy } from './schema.js';

/** Returns the text of the first duplicate client id or public key, or undefined. */
export function findDuplicates(policy: Policy): string | undefined {
  const ids = new Map<string, number>();
  const keys = new Map<string, string>();
  for (const [index, client] of policy.clients.entries()) {
    const earlier = ids.get(client.id);
    if (earlier !== undefined) {
      return `clients[${index}].id: client id "${client.id}" is already used by clients[${earlier}]`;
    }
    ids.set(client.id, index);
    for (const [keyIndex, entry] of client.keys.entries()) {
      const identity = keyIdentity(typeof entry === 'string' ? entry : entry.key);
      const owner = keys.get(identity);
      // One key under two ids would make the client id, and so its policy, ambiguous.
      if (owner !== undefined && owner !== client.id) {
        return `clients[${index}].keys[${keyIndex}]: this key is also listed for client "${owner}"`;
      }
      keys.set(identity, client.id);
    }
  }
  return undefined;
}

/** Returns the key type and base64 blob of a key line, without the comment. */
export function keyIdentity(line: string): string {
  const words = line.trim().split(/\s+/);
  return `${words[0] ?? ''} ${words[1] ?? ''}`;
}

/**
 * Returns the text of the first grant that contains borg-gate's own files, or undefined. A
 * client allowed to create repositories there could, for example, make a directory where the
 * audit log's lock goes and so block every session.
 */
export function findGrantsOverGateFiles(policy: Policy, policyFile: string): string | undefined {
  const protectedDirs = [
    ['the audit log directory', posix.dirname(policy.audit_log)],
    ['state_dir', policy.state_dir],
    ['the policy directory', posix.dirname(policyFile)],
  ] as const;
  for (const [index, client] of policy.clients.entries()) {
    const grants = [
      ...client.repositories.map(
        (entry, at) =>
          [`repositories[${at}]`, typeof entry === 'string' ? entry : entry.path] as const,
      ),
      ...client.paths.map((path, at) => [`paths[${at}]`, path] as const),
    ];
    for (const [key, path] of grants) {
      for (const [label, dir] of protectedDirs) {
        if (isSameOrInside(dir, path)) {
          return `clients[${index}].${key}: "${path}" contains ${label} (${dir}); grant a directory that holds only repositories`;
        }
      }
    }
  }
  return undefined;
}

function isSameOrInside(child: string, parent: string): boolean {
  return child === parent || child.startsWith(parent === '/' ? '/' : `${parent}/`);
}
