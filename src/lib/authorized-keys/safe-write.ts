import { createHash, randomBytes } from 'node:crypto';
import { type BigIntStats, constants, readSync, unlinkSync } from 'node:fs';
import { lstat, open, readlink, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import onExit from 'signal-exit';
import { AuthorizedKeysError } from './errors.js';

export interface FileOwner {
  uid: number;
  gid: number;
}

export interface CurrentFile {
  content: Buffer;
  mode: number;
  owner: FileOwner;
  /** Inode, size, mtime and ctime when the file was read (fileStamp), to detect a later edit. */
  stamp: string;
}

/**
 * Reads a file that borg-gate is about to replace, or returns undefined when it does not exist.
 * Throws AuthorizedKeysError for a symbolic link or anything other than a regular file, and
 * with `pinned` also when the opened file is not exactly at `file` (see unpinnedError).
 */
export async function readCurrentFile(
  file: string,
  pinned = false,
): Promise<CurrentFile | undefined> {
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    // O_NOFOLLOW: the owner of the directory could point a symlink at a file that root then rewrites.
    // O_NONBLOCK: a FIFO planted at the path would otherwise block in open().
    handle = await open(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      return undefined;
    }
    if (code === 'ELOOP') {
      throw new AuthorizedKeysError(
        `${file} is a symbolic link; borg-gate writes only regular files, so replace the link with the file it points to`,
        { cause: error },
      );
    }
    throw new AuthorizedKeysError(`cannot open ${file}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  try {
    const actual = pinned ? await openedPath(handle.fd) : undefined;
    if (actual !== undefined && actual !== file) {
      throw unpinnedError(file, actual);
    }
    const info = await handle.stat({ bigint: true });
    if (!info.isFile()) {
      throw new AuthorizedKeysError(`${file} is not a regular file`);
    }
    const content = await handle.readFile();
    return {
      content,
      mode: Number(info.mode & 0o7777n),
      owner: { uid: Number(info.uid), gid: Number(info.gid) },
      stamp: fileStamp(info),
    };
  } finally {
    await handle.close();
  }
}

/**
 * Returns true when `file` is a regular file of mode `mode`, owned by `owner` when given, and
 * of `length` bytes that equal the pieces `content` yields. Compares SHA-256 hashes, reading
 * the file in pieces of 1 MiB, so neither is held in memory whole. `content` runs only when
 * mode, owner and size already match. A symbolic link, a missing file or a read error counts
 * as different.
 */
export async function fileHasContent(
  file: string,
  content: () => Iterable<Buffer>,
  length: number,
  mode: number,
  owner?: FileOwner,
): Promise<boolean> {
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    // O_NONBLOCK: a FIFO planted at the path would otherwise block in open().
    handle = await open(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch {
    return false;
  }
  try {
    const info = await handle.stat();
    if (!info.isFile() || (info.mode & 0o7777) !== mode || info.size !== length) {
      return false;
    }
    if (owner !== undefined && (info.uid !== owner.uid || info.gid !== owner.gid)) {
      return false;
    }
    const actual = createHash('sha256');
    const buffer = Buffer.allocUnsafe(1024 * 1024);
    for (let position = 0; position < length; ) {
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, position);
      if (bytesRead === 0) {
        return false;
      }
      actual.update(buffer.subarray(0, bytesRead));
      position += bytesRead;
    }
    const expected = createHash('sha256');
    for (const piece of content()) {
      expected.update(piece);
    }
    return actual.digest('hex') === expected.digest('hex');
  } catch {
    return false;
  } finally {
    await handle.close();
  }
}

/**
 * Returns the path the kernel gives for the open file `fd` in /proc/self/fd, or undefined
 * without /proc. Pinned files must be at exactly the path they were opened by. The account that
 * owns a directory can swap it for a symbolic link between any two path lookups, so a check of
 * the path before or after the open proves nothing, while the name of the open file does.
 * A file created at its pinned path stays in that directory, and a later rename through a
 * swapped directory finds no file of its name there and fails.
 * NOTE: without /proc (not Linux) pinned files are not checked.
 */
async function openedPath(fd: number): Promise<string | undefined> {
  return readlink(`/proc/self/fd/${fd}`).catch(() => undefined);
}

/** Returns the error for a pinned file opened as `path` that the kernel names `actual`. */
function unpinnedError(path: string, actual: string): AuthorizedKeysError {
  return new AuthorizedKeysError(
    `${dirname(path)} changed while borg-gate used it: the file opened as ${path} is ${actual}; nothing was written. The account that owns that directory can do this, so keep authorized_keys in a root-owned directory (deploy/keys.md)`,
  );
}

/** Inode, size, mtime and ctime of a file, as text; any write or replacement changes them. */
function fileStamp(info: BigIntStats): string {
  return `${info.dev}:${info.ino}:${info.size}:${info.mtimeNs}:${info.ctimeNs}`;
}

/**
 * Returns the stamp of `file` now, or undefined when it does not exist, without following a
 * symbolic link.
 */
export async function currentStamp(file: string): Promise<string | undefined> {
  const info = await lstat(file, { bigint: true }).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') {
      return undefined;
    }
    throw error;
  });
  return info === undefined ? undefined : fileStamp(info);
}

/**
 * Replaces `file` atomically: writes a new temporary file in the same directory, fsyncs it,
 * sets mode and owner, renames it over `file` and fsyncs the directory. `content` may come in
 * pieces, which are written in order.
 *
 * write-file-atomic 7 is not used because it resolves symlinks in the target name and opens its
 * temporary file without O_EXCL, so the owner of the directory could redirect a root write.
 */
export async function writeFileAtomic(
  file: string,
  content: Buffer | Iterable<Buffer>,
  mode: number,
  owner: FileOwner | undefined,
  pinned = false,
): Promise<void> {
  const staged = await stageFile(file, mode, pinned);
  try {
    for (const piece of Buffer.isBuffer(content) ? [content] : content) {
      await staged.write(piece);
    }
  } catch (error) {
    await staged.discard();
    throw error;
  }
  await staged.commit(owner);
}

/** A temporary file that will replace `file`, written in pieces before it is committed. */
export interface StagedFile {
  /** Appends `bytes`. */
  write(bytes: Buffer): Promise<void>;
  /** Reads `length` bytes written before, from `position` on, into `target` at `targetOffset`. */
  read(target: Buffer, targetOffset: number, position: number, length: number): void;
  /**
   * Sets mode and owner, fsyncs, renames the file over the target and fsyncs the directory.
   * Removes the temporary file instead when any step fails.
   */
  commit(owner: FileOwner | undefined): Promise<void>;
  /** Closes and removes the temporary file. */
  discard(): Promise<void>;
}

/**
 * Creates the temporary file for writeFileAtomic, exclusively and with `mode`, next to `file`,
 * so the rename replaces `file` in one step. With `pinned`, the file must have been created
 * exactly at its path as written (see openedPath).
 */
export async function stageFile(file: string, mode: number, pinned = false): Promise<StagedFile> {
  const directory = dirname(file);
  const temporary = join(
    directory,
    `.${basename(file)}.borg-gate-${randomBytes(6).toString('hex')}`,
  );
  // Ctrl-C or a timeout of configuration management must not leave the file behind. Set up
  // before the open, so a signal that arrives while open() returns still removes it.
  const forget = onExit(() => {
    try {
      unlinkSync(temporary);
    } catch {
      // Already renamed or removed.
    }
  });
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    // O_EXCL fails on any existing name, a planted symlink included.
    // wx+ opens for reading too, so StagedFile.read can return what was written.
    handle = await open(temporary, 'wx+', mode);
  } catch (error) {
    forget();
    throw error;
  }
  const actual = pinned ? await openedPath(handle.fd) : undefined;
  if (actual !== undefined && actual !== temporary) {
    await handle.close().catch(() => undefined);
    // Removed where it really is, not through the directory path, which may lead elsewhere now.
    await unlink(actual).catch(() => undefined);
    forget();
    throw unpinnedError(temporary, actual);
  }
  const discard = async () => {
    await handle.close().catch(() => undefined);
    await unlink(temporary).catch(() => undefined);
    forget();
  };
  const commit = async (owner: FileOwner | undefined) => {
    try {
      await handle.chmod(mode);
      if (owner !== undefined) {
        await handle.chown(owner.uid, owner.gid);
      }
      await handle.sync();
      await handle.close();
      await refuseSymlink(file);
      // rename() replaces the directory entry itself and never follows a symlink at `file`.
      await rename(temporary, file);
      forget();
    } catch (error) {
      await discard();
      throw withFileName(error, `cannot replace ${file}`);
    }
    await syncDirectory(directory);
  };
  const read = (target: Buffer, targetOffset: number, position: number, length: number) => {
    for (let done = 0; done < length; ) {
      const count = readSync(
        handle.fd,
        target,
        targetOffset + done,
        length - done,
        position + done,
      );
      if (count === 0) {
        throw new Error(`${temporary} ends before byte ${position + length}`);
      }
      done += count;
    }
  };
  const write = (bytes: Buffer) =>
    writeAll(handle, bytes).catch((error: unknown) => {
      throw withFileName(error, `cannot write the new ${file}`);
    });
  return { write, read, commit, discard };
}

/**
 * Returns `error` as an AuthorizedKeysError that starts with `action`, because a system error
 * such as ENOSPC names no file. Errors that are AuthorizedKeysError already pass unchanged.
 */
function withFileName(error: unknown, action: string): Error {
  if (error instanceof AuthorizedKeysError || !(error instanceof Error)) {
    return error as Error;
  }
  return new AuthorizedKeysError(`${action}: ${error.message}; the file was left as it was`, {
    cause: error,
  });
}

/** Writes all of `bytes` at the handle's current position, however many calls that takes. */
async function writeAll(handle: Awaited<ReturnType<typeof open>>, bytes: Buffer): Promise<void> {
  let done = 0;
  while (done < bytes.length) {
    const { bytesWritten } = await handle.write(bytes, done, bytes.length - done);
    done += bytesWritten;
  }
}

/** Throws AuthorizedKeysError when `file` is a symbolic link. */
export async function refuseSymlink(file: string): Promise<void> {
  const info = await lstat(file).catch(() => undefined);
  if (info?.isSymbolicLink()) {
    throw new AuthorizedKeysError(
      `${file} is a symbolic link; borg-gate writes only regular files, so replace the link with the file it points to`,
    );
  }
}

async function syncDirectory(directory: string): Promise<void> {
  const handle = await open(directory, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
