import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseRepositoryConfig, type RepositoryConfig } from './repo-config.js';
import { detectEncryption, type Encryption } from './repo-encryption.js';

/** What doctor read from one repository directory on this server. */
export type RepositoryInfo =
  | { path: string; readable: true; config: RepositoryConfig; encryption: Encryption | undefined }
  | { path: string; readable: false; error: string };

/** Repositories read at the same time; stays well below the usual limit of 1,024 open files. */
const CONCURRENCY = 32;

/** Reads the config and the encryption mode of every repository, without spawning borg. */
export async function readRepositories(
  paths: Iterable<string>,
): Promise<Map<string, RepositoryInfo>> {
  const queue = [...new Set(paths)].sort();
  const results = new Map<string, RepositoryInfo>();
  const worker = async () => {
    for (let path = queue.shift(); path !== undefined; path = queue.shift()) {
      results.set(path, await readRepository(path));
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  return results;
}

export async function readRepository(path: string): Promise<RepositoryInfo> {
  let text: string;
  try {
    text = await readFile(join(path, 'config'), 'utf8');
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
  return { path, readable: true, config, encryption: await detectEncryption(path) };
}
