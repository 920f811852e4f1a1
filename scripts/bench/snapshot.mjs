// Copies the build to a temp dir, so a rebuild during a long run does not change what is
// measured, nor the build id that keys the policy cache.
import { cpSync, mkdtempSync, symlinkSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';

/** Returns the entry point inside a copy of the entry's directory; remove the copy's `root`. */
export function snapshotBuild(entry) {
  const root = mkdtempSync('/tmp/borg-gate-bench-build-');
  cpSync(dirname(entry), join(root, 'dist'), { recursive: true });
  // Bundles keep a few packages external (ssh2); they resolve through this link.
  symlinkSync(resolve('node_modules'), join(root, 'node_modules'));
  return { root, entry: join(root, 'dist', basename(entry)) };
}
