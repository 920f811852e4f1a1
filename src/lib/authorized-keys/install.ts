import { execFile } from 'node:child_process';
import { stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { promisify } from 'node:util';
import { AuthorizedKeysError } from './errors.js';
import { replaceBlock } from './managed-block.js';
import { type FileOwner, readCurrentFile, writeFileAtomic } from './safe-write.js';

const AUTHORIZED_KEYS_MODE = 0o600;

export interface InstallOptions {
  /** User that owns a newly created file; an existing file keeps its owner. */
  owner?: string;
  blockName: string;
}

export interface InstallResult {
  changed: boolean;
  /** Copy of the previous content, written when the file existed and changed. */
  backupFile?: string;
}

/**
 * Writes `block` into `file`, replacing the block of the same name and keeping every other
 * byte. Does nothing, not even touch the mtime, when the content and mode are already right.
 */
export async function installBlock(
  file: string,
  block: string,
  options: InstallOptions,
): Promise<InstallResult> {
  const current = await readCurrentFile(file);
  const before = current?.content.toString('latin1') ?? '';
  const after = replaceBlock(before, options.blockName, block, file);
  if (current !== undefined && before === after && current.mode === AUTHORIZED_KEYS_MODE) {
    return { changed: false };
  }
  const owner = await chooseOwner(file, current?.owner, options.owner);
  let backupFile: string | undefined;
  if (current !== undefined && before !== after) {
    backupFile = `${file}.bak`;
    await writeFileAtomic(backupFile, current.content, AUTHORIZED_KEYS_MODE, owner);
  }
  await writeFileAtomic(file, Buffer.from(after, 'latin1'), AUTHORIZED_KEYS_MODE, owner);
  return { changed: true, backupFile };
}

/**
 * Picks the owner: `--owner` if given, else the existing file's owner, else the directory's.
 * sshd reads authorized_keys as the target user, so a root-owned 0600 file would lock them out.
 */
async function chooseOwner(
  file: string,
  existing: FileOwner | undefined,
  requested: string | undefined,
): Promise<FileOwner | undefined> {
  if (requested !== undefined) {
    return lookupUser(requested);
  }
  if (existing !== undefined) {
    return existing;
  }
  const directory = await stat(dirname(file)).catch((error: unknown) => {
    throw new AuthorizedKeysError(
      `directory ${dirname(file)} is not usable: ${(error as Error).message}; create it (mode 0700, owned by the backup user) first`,
      { cause: error },
    );
  });
  return { uid: directory.uid, gid: directory.gid };
}

/** Resolves a user name through `id`, so NSS sources such as LDAP count too. */
export async function lookupUser(user: string): Promise<FileOwner> {
  // A name starting with "-" would be read by id as an option.
  if (!/^[A-Za-z0-9_][A-Za-z0-9._-]*\$?$/.test(user)) {
    throw new AuthorizedKeysError(`--owner ${JSON.stringify(user)} is not a valid user name`);
  }
  const run = promisify(execFile);
  try {
    const uid = Number((await run('id', ['-u', user])).stdout.trim());
    const gid = Number((await run('id', ['-g', user])).stdout.trim());
    return { uid, gid };
  } catch (error) {
    throw new AuthorizedKeysError(`--owner ${JSON.stringify(user)}: no such user`, {
      cause: error,
    });
  }
}
