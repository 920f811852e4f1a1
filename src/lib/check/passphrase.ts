import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import type { PassphraseSource } from './targets.js';

/** Passphrase delivery for one borg run: environment entries plus the text for fd 3. */
export interface PassphraseDelivery {
  env: Record<string, string>;
  /** Written to the child's fd 3, which BORG_PASSPHRASE_FD names; undefined when unused. */
  pipeText: string | undefined;
}

/** A passphrase source that borg-gate will not use; `reason` is safe to show and log. */
export class PassphraseRefusedError extends Error {
  override readonly name = 'PassphraseRefusedError';
}

export const PASSPHRASE_FD = 3;

/** Largest passphrase file read; a bigger file is a wrong path, not a passphrase. */
const MAX_PASSPHRASE_BYTES = 64 * 1024;

/**
 * Prepares the passphrase for one borg run. A file is read here and sent through a
 * socket pair that borg inherits as fd 3, so the passphrase from a file never
 * appears in an environment, argv or log.
 * Throws PassphraseRefusedError when the file is unsafe or unreadable.
 */
export async function preparePassphrase(source: PassphraseSource): Promise<PassphraseDelivery> {
  switch (source.type) {
    case 'file':
      return {
        env: { BORG_PASSPHRASE_FD: String(PASSPHRASE_FD) },
        pipeText: await readPassphraseFile(source.file),
      };
    case 'command':
      return { env: { BORG_PASSCOMMAND: quoteForShlex(source.argv) }, pipeText: undefined };
    default:
      return { env: {}, pipeText: undefined };
  }
}

async function readPassphraseFile(file: string): Promise<string> {
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    // O_NOFOLLOW: a symlink could point the check at a file the policy never named.
    handle = await open(file, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'error';
    throw new PassphraseRefusedError(`passphrase file ${file} cannot be opened (${code})`, {
      cause: error,
    });
  }
  try {
    // fstat on the open handle, so the file checked is the file read.
    const info = await handle.stat();
    checkPassphraseFile(file, info);
    return await handle.readFile('utf8');
  } finally {
    await handle.close();
  }
}

function checkPassphraseFile(
  file: string,
  info: { uid: number; mode: number; size: number; isFile(): boolean },
) {
  if (!info.isFile()) {
    throw new PassphraseRefusedError(`passphrase file ${file} is not a regular file`);
  }
  const uid = process.getuid?.();
  // A file another user owns could be swapped for a passphrase of that user's choosing.
  if (info.uid !== uid) {
    throw new PassphraseRefusedError(
      `passphrase file ${file} is owned by uid ${info.uid}, not by uid ${uid} running the check; run: chown ${uid} ${file}`,
    );
  }
  // Group or other access would let other local users read the repository key's passphrase.
  if ((info.mode & 0o7777 & ~0o600) !== 0) {
    const mode = (info.mode & 0o7777).toString(8).padStart(4, '0');
    throw new PassphraseRefusedError(
      `passphrase file ${file} has mode ${mode}; it must be 0600 or stricter; run: chmod 0600 ${file}`,
    );
  }
  if (info.size > MAX_PASSPHRASE_BYTES) {
    throw new PassphraseRefusedError(
      `passphrase file ${file} is ${info.size} bytes, above the ${MAX_PASSPHRASE_BYTES} byte limit; check the path`,
    );
  }
}

/**
 * Joins argv into the one string BORG_PASSCOMMAND takes. borg 1.2 splits it with
 * Python's `shlex.split` (POSIX rules, no shell), so each word is single-quoted
 * and an embedded `'` becomes `'"'"'`.
 */
export function quoteForShlex(argv: readonly string[]): string {
  return argv.map((word) => `'${word.replaceAll("'", `'"'"'`)}'`).join(' ');
}
