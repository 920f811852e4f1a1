import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseRepositoryConfig, type RepositoryConfig } from './repo-config.js';
import { detectEncryption, type Encryption } from './repo-encryption.js';

/** The config and encryption of one repository directory, or the reason they could not be read. */
export type RepositoryInfo =
  | { path: string; readable: true; config: RepositoryConfig; encryption: Encryption | undefined }
  | { path: string; readable: false; error: string };

/**
 * Reads the config and the encryption mode of every repository, without spawning borg.
 * Synchronous on purpose: for a thousand repositories, small sync reads beat the thread pool.
 */
export function readRepositories(paths: Iterable<string>): Map<string, RepositoryInfo> {
  const results = new Map<string, RepositoryInfo>();
  for (const path of [...new Set(paths)].sort()) {
    results.set(path, readRepository(path));
  }
  return results;
}

export function readRepository(path: string): RepositoryInfo {
  let text: string;
  try {
    text = readFileSync(join(path, 'config'), 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const reason =
      code === 'ENOENT'
        ? 'no borg repository here (no config file)'
        : `config unreadable (${code ?? 'error'})`;
    return { path, readable: false, error: reason };
  }
  const config = parseRepositoryConfig(text);
  if (config === undefined) {
    return { path, readable: false, error: 'config has no [repository] section' };
  }
  return { path, readable: true, config, encryption: detectEncryption(path) };
}
