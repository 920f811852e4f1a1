import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

/**
 * Returns a sha256 per file of a borg repository, keyed by relative path. Lock files are left
 * out because even read-only sessions create and remove them.
 */
export function hashRepository(repo: string): Record<string, string> {
  const hashes: Record<string, string> = {};
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (name.startsWith('lock.')) {
        continue;
      }
      if (statSync(path).isDirectory()) {
        walk(path);
      } else {
        hashes[relative(repo, path)] = createHash('sha256')
          .update(readFileSync(path))
          .digest('hex');
      }
    }
  };
  walk(repo);
  return hashes;
}

/** Lists the lock files borg left in a repository. */
export function lockFiles(repo: string): string[] {
  return readdirSync(repo).filter((name) => name.startsWith('lock.'));
}

/** Returns only the segment files (the data), which append-only mode must never rewrite. */
export function segmentHashes(repo: string): Record<string, string> {
  const all = hashRepository(repo);
  return Object.fromEntries(Object.entries(all).filter(([path]) => path.startsWith('data/')));
}
