import { lstat, mkdir } from 'node:fs/promises';

/** BORG_BASE_DIR for checks is missing, unsafe or cannot be created. */
export class BorgBaseDirError extends Error {
  override readonly name = 'BorgBaseDirError';
}

/**
 * Creates (mode 0700) or checks the directory borg uses as BORG_BASE_DIR during checks.
 * borg keeps its security records there (location, key type, manifest timestamp), so a
 * directory another user can write would let that user hide a moved or rolled-back repository.
 */
export async function prepareBorgBaseDir(directory: string): Promise<void> {
  try {
    await mkdir(directory, { recursive: true, mode: 0o700 });
  } catch (error) {
    throw new BorgBaseDirError(`cannot create ${directory}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  const info = await lstat(directory);
  const uid = process.getuid?.();
  if (!info.isDirectory()) {
    throw new BorgBaseDirError(`${directory} is not a directory; remove it and rerun`);
  }
  if (info.uid !== uid) {
    throw new BorgBaseDirError(
      `${directory} is owned by uid ${info.uid}; run: chown -R ${uid} ${directory}`,
    );
  }
  if ((info.mode & 0o022) !== 0) {
    const mode = (info.mode & 0o777).toString(8).padStart(4, '0');
    throw new BorgBaseDirError(`${directory} has mode ${mode}; run: chmod 0700 ${directory}`);
  }
}
