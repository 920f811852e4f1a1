import { execFile } from 'node:child_process';
import { stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { promisify } from 'node:util';
import { AuthorizedKeysError } from './errors.js';
import { replaceBlockBytes } from './managed-block.js';
import { type FileOwner, readCurrentFile, writeFileAtomic } from './safe-write.js';

/**
 * Modes `keys write --mode` accepts. 0600 suits a file the account owns; a root-owned file the
 * account must still read (sshd reads it with the account's rights) needs 0640 or 0644.
 */
export const ALLOWED_MODES = [0o600, 0o640, 0o644] as const;
export const DEFAULT_MODE = 0o600;

/** Parses `--mode` (octal text such as 0600); throws AuthorizedKeysError for other modes. */
export function parseMode(text: string | undefined): number {
  if (text === undefined) {
    return DEFAULT_MODE;
  }
  const mode = /^0?[0-7]{3}$/.test(text) ? Number.parseInt(text, 8) : Number.NaN;
  if (!(ALLOWED_MODES as readonly number[]).includes(mode)) {
    throw new AuthorizedKeysError(
      `--mode ${JSON.stringify(text)} is not allowed; use 0600, 0640 or 0644 (group or others must never write the file)`,
    );
  }
  return mode;
}

export interface InstallOptions {
  /** User that owns a newly created file; an existing file keeps its owner. */
  owner?: string;
  blockName: string;
  /** File mode, one of ALLOWED_MODES; DEFAULT_MODE when absent. */
  mode?: number;
}

export interface InstallResult {
  changed: boolean;
  /** Copy of the previous content, written when the file existed and changed. */
  backupFile?: string;
}

/**
 * Writes `block` into `file`, replacing the block of the same name and keeping every other
 * byte. Does nothing, not even touch the mtime, when the content and mode are already right.
 * `block` is the block's text, or its UTF-8 bytes in pieces.
 */
export async function installBlock(
  file: string,
  block: string | Buffer[],
  options: InstallOptions,
): Promise<InstallResult> {
  const mode = options.mode ?? DEFAULT_MODE;
  const pieces = typeof block === 'string' ? [Buffer.from(block, 'utf8')] : block;
  const current = await readCurrentFile(file);
  const replaced = replaceBlockBytes(
    current?.content ?? Buffer.alloc(0),
    options.blockName,
    pieces,
    file,
  );
  if (current !== undefined && replaced.unchanged && current.mode === mode) {
    return { changed: false };
  }
  const owner = await chooseOwner(file, current?.owner, options.owner);
  let backupFile: string | undefined;
  if (current !== undefined && !replaced.unchanged) {
    backupFile = `${file}.bak`;
    await writeFileAtomic(backupFile, current.content, mode, owner);
  }
  await writeFileAtomic(file, replaced.parts, mode, owner);
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
