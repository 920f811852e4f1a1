import { lstatSync, readlinkSync } from 'node:fs';
import { posix } from 'node:path';

/** Symlink hops allowed while resolving, as in Linux's own limit for path lookups. */
const MAX_SYMLINKS = 40;

export interface ResolveContext {
  /** What `~` means to `borg serve`: BORG_BASE_DIR if set, else HOME. */
  baseDir: string;
  /** The working directory of `borg serve`; relative paths start here. */
  cwd: string;
}

/**
 * Resolves a repository path the way borg 1.2's `RepositoryServer._resolve_path` does:
 * `/~/x` and `~/x` are under the base dir, `/./x` is relative to the cwd, then symlinks are
 * resolved like Python's non-strict `os.path.realpath`. Returns undefined for `~user` forms.
 */
export function resolveBorgPath(requested: string, context: ResolveContext): string | undefined {
  let path = requested;
  if (path.startsWith('/~/')) {
    path = joinLikePython(context.baseDir, path.slice(3));
  } else if (path.startsWith('~/')) {
    path = joinLikePython(context.baseDir, path.slice(2));
  } else if (path === '~' || path === '/~') {
    path = context.baseDir;
  } else if (path.startsWith('~') || path.startsWith('/~')) {
    // NOTE: borg expands `~user` through the password database. The gate refuses that form
    // rather than guess another user's home, so it can only be stricter than borg here.
    return undefined;
  } else if (path.startsWith('/./')) {
    path = path.slice(3);
  }
  return realpathLikePython(joinLikePython(context.cwd, path));
}

/** Joins like Python's `os.path.join`: an absolute second part replaces the first (`/~//etc`). */
function joinLikePython(base: string, rest: string): string {
  if (rest.startsWith('/')) {
    return rest;
  }
  return rest === '' ? `${base}/` : `${base}/${rest}`;
}

/** Resolves symlinks component by component; missing components are kept as written. */
export function realpathLikePython(absolute: string): string | undefined {
  let resolved = '/';
  let pending = absolute.split('/');
  let hops = 0;
  while (pending.length > 0) {
    const part = pending.shift()!;
    if (part === '' || part === '.') {
      continue;
    }
    if (part === '..') {
      resolved = posix.dirname(resolved);
      continue;
    }
    const candidate = posix.join(resolved, part);
    const target = readLinkOrUndefined(candidate);
    if (target === undefined) {
      resolved = candidate;
      continue;
    }
    hops += 1;
    if (hops > MAX_SYMLINKS) {
      return undefined;
    }
    pending = [...target.split('/'), ...pending];
    if (target.startsWith('/')) {
      resolved = '/';
    }
  }
  return resolved;
}

function readLinkOrUndefined(path: string): string | undefined {
  try {
    if (!lstatSync(path).isSymbolicLink()) {
      return undefined;
    }
    return readlinkSync(path);
  } catch {
    return undefined;
  }
}
