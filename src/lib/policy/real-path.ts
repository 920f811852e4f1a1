import { readlinkSync, realpathSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';

/** Maximum symlinks resolveRealPath follows by hand, as the kernel's limit of 40. */
const MAX_LINKS = 40;

/**
 * Resolves symlinks in `path`, as borg's realpath will once the path exists. When `path` does
 * not exist yet, resolves its nearest existing ancestor and appends the rest as written, and a
 * dangling symlink on the way is followed to where its target would be, since a client may
 * create that target.
 */
export function resolveRealPath(path: string, links = 0): string {
  const missing: string[] = [];
  let current = resolve(path);
  for (;;) {
    try {
      return join(realpathSync.native(current), ...missing.reverse());
    } catch {
      const target = links < MAX_LINKS ? readLink(current) : undefined;
      if (target !== undefined) {
        const rest = missing.reverse();
        return resolveRealPath(join(resolve(dirname(current), target), ...rest), links + 1);
      }
      const parent = dirname(current);
      if (parent === current) {
        return resolve(path);
      }
      missing.push(basename(current));
      current = parent;
    }
  }
}

function readLink(path: string): string | undefined {
  try {
    return readlinkSync(path);
  } catch {
    return undefined;
  }
}
