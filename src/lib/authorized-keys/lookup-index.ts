import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import type { GateCommand } from './entry.js';
import { AuthorizedKeysError } from './errors.js';

/**
 * The lookup index: every active entry keyed by its base64 key, plus the SHA-256 of the policy
 * text it was rendered from. `keys lookup --index` reads entries from it without parsing the policy,
 * and falls back to the policy whenever the hash or the paths differ.
 */

const INDEX_HEADER = '# borg-gate lookup index v1';

export interface IndexEntry {
  base64: string;
  line: string;
}

/** Hashes the policy text exactly as read from disk. */
export function hashPolicySource(source: string | Buffer): string {
  return createHash('sha256').update(source).digest('hex');
}

export function formatIndex(
  policyHash: string,
  command: GateCommand,
  entries: IndexEntry[],
): string {
  const lines = [
    INDEX_HEADER,
    `# policy-sha256 ${policyHash}`,
    `# gate-path ${command.gatePath}`,
    `# policy-file ${command.policyFile}`,
    ...entries.map((entry) => `${entry.base64} ${entry.line}`),
  ];
  return `${lines.join('\n')}\n`;
}

/**
 * Finds the entry for a key. Returns `stale` when the index was built from other policy text or
 * other paths, so the caller must read the policy itself.
 */
export function searchIndex(
  index: string,
  policyHash: string,
  command: GateCommand,
  keyType: string,
  keyBase64: string,
): string | undefined | 'stale' {
  const header = `${INDEX_HEADER}\n# policy-sha256 ${policyHash}\n# gate-path ${command.gatePath}\n# policy-file ${command.policyFile}\n`;
  if (!index.startsWith(header)) {
    return 'stale';
  }
  const start = index.indexOf(`\n${keyBase64} `, header.length - 1);
  if (start === -1) {
    return undefined;
  }
  const end = index.indexOf('\n', start + 1);
  const line = index.slice(start + 1 + keyBase64.length + 1, end === -1 ? index.length : end);
  // The entry ends in "<type> <base64> <comment>"; a different type word is a different key.
  return line.includes(` ${keyType} ${keyBase64} `) ? line : undefined;
}

/** Reads the index, rejecting one that another user could have written. */
export async function readIndex(file: string): Promise<string> {
  // O_NOFOLLOW and the owner check: a user who can write the index chooses every forced command.
  const handle = await open(file, constants.O_RDONLY | constants.O_NOFOLLOW).catch((error) => {
    throw new AuthorizedKeysError(`cannot open lookup index ${file}: ${(error as Error).message}`, {
      cause: error,
    });
  });
  try {
    const info = await handle.stat();
    const uid = process.getuid?.();
    if (!info.isFile() || (info.uid !== 0 && info.uid !== uid) || (info.mode & 0o022) !== 0) {
      throw new AuthorizedKeysError(
        `lookup index ${file} must be a regular file owned by root and not writable by group or others`,
      );
    }
    return await handle.readFile('utf8');
  } finally {
    await handle.close();
  }
}
