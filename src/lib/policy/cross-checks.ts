import { basename, dirname, posix, resolve } from 'node:path';
import { resolveRealPath } from './real-path.js';
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
  const protectedDirs: ProtectedDir[] = gateDirectories(policy, policyFile).flatMap(
    ({ label, dir, real, files }) =>
      (real === dir ? [dir] : [dir, real]).map((spelling) => ({ label, dir: spelling, files })),
  );
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

/** A directory that contains borg-gate's own files. */
interface ProtectedDir {
  label: string;
  dir: string;
  /**
   * Start of the names of borg-gate's files in `dir` (the file, its lock, rotated copies), so a
   * grant below `dir` may not begin with one. Undefined when borg-gate owns all of `dir`.
   */
  files: string | undefined;
}

/** One of borg-gate's directories, as written (made absolute) and with symlinks resolved. */
export interface GateDirectory {
  label: string;
  dir: string;
  real: string;
  files: string | undefined;
}

/**
 * Returns borg-gate's own directories. The policy cache records the resolved ones, so a cache
 * made before a symlink changed is not used.
 */
export function gateDirectories(
  policy: Pick<Policy, 'audit_log' | 'state_dir'>,
  policyFile: string,
): GateDirectory[] {
  const policyPath = resolve(policyFile);
  const dirs: [string, string, string | undefined][] = [
    ['the audit log directory', posix.dirname(policy.audit_log), basename(policy.audit_log)],
    ['state_dir', policy.state_dir, undefined],
    ['the policy directory', dirname(policyPath), basename(policyPath)],
  ];
  return dirs.map(([label, dir, files]) => ({
    label,
    dir: resolve(dir),
    real: resolveRealPath(dir),
    files,
  }));
}

/**
 * Returns the protected directory a grant covers or lies in. A grant inside one lets a client
 * create a repository where borg-gate keeps a file, such as the audit log's lock directory.
 */
function findProtectedDir(dirs: readonly ProtectedDir[], path: string): ProtectedDir | undefined {
  return dirs.find(({ dir, files }) => {
    if (isSameOrInside(dir, path)) {
      return true;
    }
    if (!isSameOrInside(path, dir)) {
      return false;
    }
    const first = path.slice(dir === '/' ? 1 : dir.length + 1).split('/')[0]!;
    return files === undefined || first.startsWith(files);
  });
}

function grantProblem(key: string, path: string, { label, dir }: ProtectedDir): string {
  return `${key}: "${path}" overlaps ${label} (${dir}) or the files borg-gate keeps there; grant a directory that holds only repositories`;
}

function isSameOrInside(child: string, parent: string): boolean {
  return child === parent || child.startsWith(parent === '/' ? '/' : `${parent}/`);
}
