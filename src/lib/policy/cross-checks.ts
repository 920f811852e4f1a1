import { realpathSync } from 'node:fs';
import { basename, dirname, join, posix, resolve } from 'node:path';
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

/** The first two whitespace-separated words of a line, after any leading whitespace. */
const FIRST_TWO_WORDS = /^\s*(\S*)\s*(\S*)/;

/** The first two words when the line starts with one and a single space follows it. */
const PLAIN_FIRST_TWO_WORDS = /^\S+ \S+/;

/** Returns the key type and base64 blob of a key line, without the comment. */
export function keyIdentity(line: string): string {
  // The usual spelling needs no joined string, which matters for 100,000 keys.
  const plain = PLAIN_FIRST_TWO_WORDS.exec(line);
  if (plain !== null) {
    return plain[0];
  }
  const [, type, base64] = FIRST_TWO_WORDS.exec(line) as unknown as [string, string, string];
  return `${type} ${base64}`;
}

/**
 * Returns the text of the first grant that contains borg-gate's own files, or undefined. A
 * client allowed to create repositories there could, for example, make a directory where the
 * audit log's lock goes and so block every session.
 */
export function findGrantsOverGateFiles(policy: Policy, policyFile: string): string | undefined {
  // borg resolves symlinks in a grant before it compares paths, and `--policy` may be relative
  // or run through a symlinked directory, so each directory counts under both spellings.
  // NOTE: grants are compared as written. A grant that is itself a symlink into one of these
  // directories is not caught here, because resolving 100,000 grants would slow every load.
  const protectedDirs: ProtectedDir[] = [
    ...spellings('the audit log directory', posix.dirname(policy.audit_log)),
    ...spellings('state_dir', policy.state_dir),
    ...spellings('the policy directory', dirname(resolve(policyFile))),
  ];
  for (const [index, client] of policy.clients.entries()) {
    for (const [at, entry] of client.repositories.entries()) {
      const path = typeof entry === 'string' ? entry : entry.path;
      const protectedDir = findProtectedDir(protectedDirs, path);
      if (protectedDir !== undefined) {
        return grantProblem(`clients[${index}].repositories[${at}]`, path, protectedDir);
      }
    }
    for (const [at, path] of client.paths.entries()) {
      const protectedDir = findProtectedDir(protectedDirs, path);
      if (protectedDir !== undefined) {
        return grantProblem(`clients[${index}].paths[${at}]`, path, protectedDir);
      }
    }
  }
  return undefined;
}

type ProtectedDir = readonly [label: string, dir: string];

/** Returns the directory as written and, when it differs, with every symlink in it resolved. */
function spellings(label: string, dir: string): ProtectedDir[] {
  const real = realDirectory(dir);
  return real === dir
    ? [[label, dir]]
    : [
        [label, dir],
        [label, real],
      ];
}

/**
 * Resolves symlinks in `dir`, or in its nearest existing ancestor when `dir` does not exist
 * yet, and appends the rest of the path as written.
 */
function realDirectory(dir: string): string {
  const missing: string[] = [];
  let current = resolve(dir);
  for (;;) {
    try {
      return join(realpathSync.native(current), ...missing.reverse());
    } catch {
      const parent = dirname(current);
      if (parent === current) {
        return resolve(dir);
      }
      missing.push(basename(current));
      current = parent;
    }
  }
}

function findProtectedDir(dirs: readonly ProtectedDir[], path: string): ProtectedDir | undefined {
  return dirs.find(([, dir]) => isSameOrInside(dir, path));
}

function grantProblem(key: string, path: string, [label, dir]: ProtectedDir): string {
  return `${key}: "${path}" contains ${label} (${dir}); grant a directory that holds only repositories`;
}

function isSameOrInside(child: string, parent: string): boolean {
  return child === parent || child.startsWith(parent === '/' ? '/' : `${parent}/`);
}
