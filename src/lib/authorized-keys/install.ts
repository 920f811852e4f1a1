import { execFile } from 'node:child_process';
import { lstat, readdir, realpath, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { type HeldLock, takeFileLock } from '../file-lock.js';
import { AuthorizedKeysError } from './errors.js';
import { type BlockSource, bufferSource } from './lookup-index.js';
import { type BlockSplit, splitAtBlock } from './managed-block.js';
import {
  currentStamp,
  type FileOwner,
  readCurrentFile,
  type StagedFile,
  stageFile,
  writeFileAtomic,
} from './safe-write.js';

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
  /**
   * Runs once the new block is complete and before the file is replaced, with a way to read
   * the block's bytes back. An error it throws leaves the file as it was.
   */
  withNewBlock?: (block: BlockSource) => Promise<void>;
  /** Called with the lock's path when the lock has been busy for a second. */
  onLockWait?: (lockPath: string) => void;
}

export interface InstallResult {
  changed: boolean;
  /** Copy of the previous content, written when the file existed and changed. */
  backupFile?: string;
  /** The file's bytes before and after the block, which installBlock kept as they were. */
  outside: Pick<BlockSplit, 'before' | 'after'>;
  /** Temporary files of a killed earlier write that installBlock removed. */
  removedLeftovers: string[];
}

/** Lock directory next to the file, held by `keys write` from reading the file to replacing it. */
export function installLockPath(file: string): string {
  return `${file}.borg-gate-lock`;
}

/** How long a `keys write` waits for another one that writes the same file. */
const LOCK_WAIT_MS = 120_000;

/**
 * Age after which the lock of a killed `keys write` is taken over; a held lock is refreshed
 * every half of it. Generous, because a write that is stopped (SIGSTOP, a suspended VM) for
 * longer loses the lock, and SIGINT, SIGTERM and SIGHUP release it at once anyway.
 */
const LOCK_STALE_MS = 60_000;

/**
 * Writes `block` into `file`, replacing the block of the same name and keeping every other
 * byte. Does nothing, not even touch the mtime, when the content and mode are already right.
 * `block` is the block's text, or its UTF-8 bytes in pieces, which are compared with the
 * installed block as they come and are not kept: the temporary file is started only at the
 * first difference. A piece source that throws leaves `file` as it was.
 *
 * Two `keys write` runs on one file, for two blocks, take turns through a lock, so neither
 * puts back lines the other has just removed. An edit by another program between the read
 * and the rename is detected, and the file is then left as that program wrote it.
 */
export async function installBlock(
  file: string,
  block: string | Iterable<Buffer>,
  options: InstallOptions,
): Promise<InstallResult> {
  // Checked before the lock, which is made in that directory.
  await statDirectory(file);
  await rejectLinkedDirectory(file);
  let lock: HeldLock;
  const waiting = setTimeout(() => options.onLockWait?.(installLockPath(file)), 1000);
  try {
    lock = await takeFileLock(file, {
      lockPath: installLockPath(file),
      staleMs: LOCK_STALE_MS,
      waitMs: LOCK_WAIT_MS,
      retryable: (error) => (error as NodeJS.ErrnoException).code === 'ELOCKED',
    });
  } catch (error) {
    throw lockError(file, error);
  } finally {
    clearTimeout(waiting);
  }
  let result: InstallResult;
  try {
    result = await installLocked(file, block, options, lock.lost);
  } finally {
    await lock.release().catch(() => undefined);
  }
  // Noticed only after the rename when the process was stopped just before it.
  const lost = lock.lost();
  if (lost !== undefined) {
    throw new AuthorizedKeysError(
      `the lock ${installLockPath(file)} was taken over while this write was stopped, so another write may have been undone; run "borg-gate keys write" again`,
      { cause: lost },
    );
  }
  return result;
}

/**
 * Removes the temporary files that a write of `file` or of its `.bak` leaves when it is killed
 * with SIGKILL (other signals remove them), and returns their paths. Called under the lock, so
 * no running write owns them. Only regular files of this process's user are removed.
 */
export async function removeLeftovers(file: string): Promise<string[]> {
  const directory = dirname(file);
  const name = basename(file).replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const temporary = new RegExp(`^\\.${name}(?:\\.bak)?\\.borg-gate-[0-9a-f]{12}$`);
  const removed: string[] = [];
  for (const entry of await readdir(directory).catch(() => [])) {
    if (!temporary.test(entry)) {
      continue;
    }
    const path = join(directory, entry);
    const info = await lstat(path).catch(() => undefined);
    if (info?.isFile() && info.uid === process.getuid?.()) {
      await unlink(path).catch(() => undefined);
      removed.push(path);
    }
  }
  return removed;
}

function lockError(file: string, error: unknown): AuthorizedKeysError {
  const lock = installLockPath(file);
  const code = (error as NodeJS.ErrnoException).code;
  const problem =
    code === 'ELOCKED'
      ? `another "borg-gate keys write" of ${file} has held it for over ${LOCK_WAIT_MS / 1000} s; wait for it, or remove ${lock} if no such write runs`
      : `${(error as Error).message}; check that ${dirname(file)} is writable (keys write usually runs as root), and remove ${lock} if it is left over`;
  return new AuthorizedKeysError(`cannot take the lock ${lock}: ${problem}`, { cause: error });
}

/**
 * Throws AuthorizedKeysError when the directory of `file` is reached through a symbolic link.
 * The account that owns its home could point `~/.ssh` at another account's directory, and
 * root would then write that account's authorized_keys.
 * Checked before the lock and again before the rename. A swap between the checks cannot beat
 * them, because the files themselves are pinned to their directory (openedPath in safe-write.ts).
 */
async function rejectLinkedDirectory(file: string): Promise<void> {
  const directory = dirname(file);
  const real = await realpath(directory).catch(() => directory);
  if (real !== directory) {
    throw new AuthorizedKeysError(
      `the directory of ${file} is reached through a symbolic link (${directory} is ${real}); pass the real path, ${join(real, basename(file))}, after checking that it is the right file`,
    );
  }
}

async function installLocked(
  file: string,
  block: string | Iterable<Buffer>,
  options: InstallOptions,
  lockLost: () => Error | undefined,
): Promise<InstallResult> {
  const mode = options.mode ?? DEFAULT_MODE;
  const pieces = typeof block === 'string' ? [Buffer.from(block, 'utf8')] : block;
  const removedLeftovers = await removeLeftovers(file);
  const current = await readCurrentFile(file, true);
  const split = splitAtBlock(current?.content ?? Buffer.alloc(0), options.blockName, file);
  const owner = await chooseOwner(file, current?.owner, options.owner);
  const output = new BlockOutput(file, mode, split);
  /**
   * Throws unless the file is still as it was read, the lock is still ours and the directory
   * is still reached without a symbolic link. `written` names what was written already.
   */
  const checkUnchanged = async (written = '') => {
    await rejectLinkedDirectory(file);
    const lost = lockLost();
    if (lost !== undefined || (await currentStamp(file)) !== current?.stamp) {
      throw new AuthorizedKeysError(
        `${file} changed while borg-gate was writing it, so it was left as it is${written}; run "borg-gate keys write" again`,
        { cause: lost },
      );
    }
  };
  try {
    for (const piece of pieces) {
      await output.add(piece);
    }
    const unchanged = output.matchesOld();
    const outside = { before: split.before, after: split.after };
    const ownerRight =
      owner === undefined || (current?.owner.uid === owner.uid && current.owner.gid === owner.gid);
    if (current !== undefined && unchanged && current.mode === mode && ownerRight) {
      await options.withNewBlock?.(output.blockSource());
      return { changed: false, outside, removedLeftovers };
    }
    const staged = await output.finish();
    await checkUnchanged();
    let backupFile: string | undefined;
    if (current !== undefined && !unchanged) {
      backupFile = `${file}.bak`;
      await writeFileAtomic(backupFile, current.content, mode, owner, true).catch(
        (error: unknown) => {
          // The system error itself, without the wording writeFileAtomic puts around it.
          const reason = ((error as Error).cause as Error | undefined) ?? (error as Error);
          throw new AuthorizedKeysError(
            `cannot keep the previous file as ${backupFile} (${reason.message}); ${file} was not changed, so fix or remove ${backupFile} and run "borg-gate keys write" again`,
            { cause: error },
          );
        },
      );
    }
    await options.withNewBlock?.(output.blockSource());
    const written = [
      ...(backupFile === undefined ? [] : [`the copy ${backupFile}`]),
      ...(options.withNewBlock === undefined ? [] : ['the lookup index']),
    ];
    await checkUnchanged(
      written.length === 0 ? '' : ` (${written.join(' and ')} had been written)`,
    );
    await staged.commit(owner);
    return { changed: true, backupFile, outside, removedLeftovers };
  } catch (error) {
    await output.discard();
    throw error;
  }
}

/**
 * The new content of an authorized_keys file, written to a temporary file from the first
 * piece of the block that differs from the installed one. Up to there, the new bytes equal
 * the old ones, so the file starts with the old bytes.
 */
class BlockOutput {
  private staged: StagedFile | undefined;
  /** Bytes of the new block so far. */
  private offset = 0;

  constructor(
    private readonly file: string,
    private readonly mode: number,
    private readonly split: BlockSplit,
  ) {}

  async add(piece: Buffer): Promise<void> {
    const { old } = this.split;
    const end = this.offset + piece.length;
    if (
      this.staged === undefined &&
      !(end <= old.length && piece.equals(old.subarray(this.offset, end)))
    ) {
      await this.stage();
    }
    await this.staged?.write(piece);
    this.offset = end;
  }

  /**
   * Reads the new block: from the temporary file when there is one, else from the old block,
   * which the new one equals. The temporary file still belongs to this process, so no other
   * user can have changed it.
   */
  blockSource(): BlockSource {
    const staged = this.staged;
    if (staged === undefined) {
      return bufferSource(this.split.old);
    }
    const start = this.split.before.reduce((total, bytes) => total + bytes.length, 0);
    return {
      copy: (target, targetOffset, offset, length) => {
        staged.read(target, targetOffset, start + offset, length);
      },
    };
  }

  /** True when no piece differed and the new block is exactly as long as the old one. */
  matchesOld(): boolean {
    return this.staged === undefined && this.offset === this.split.old.length;
  }

  /** Writes what follows the block and returns the complete temporary file. */
  async finish(): Promise<StagedFile> {
    const staged = this.staged ?? (await this.stage());
    await staged.write(this.split.after);
    return staged;
  }

  async discard(): Promise<void> {
    await this.staged?.discard();
  }

  private async stage(): Promise<StagedFile> {
    const staged = await stageFile(this.file, this.mode, true);
    this.staged = staged;
    for (const bytes of this.split.before) {
      await staged.write(bytes);
    }
    await staged.write(this.split.old.subarray(0, this.offset));
    return staged;
  }
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
  const directory = await statDirectory(file);
  return { uid: directory.uid, gid: directory.gid };
}

/** Returns the stat of the directory of `file`; throws AuthorizedKeysError with the fix. */
async function statDirectory(file: string) {
  return stat(dirname(file)).catch((error: unknown) => {
    throw new AuthorizedKeysError(
      `directory ${dirname(file)} is not usable: ${(error as Error).message}; create it (mode 0700, owned by the backup user) first`,
      { cause: error },
    );
  });
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
