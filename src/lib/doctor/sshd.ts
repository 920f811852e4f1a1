import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

export const DEFAULT_SSHD = '/usr/sbin/sshd';
export const DEFAULT_SSHD_CONFIG = '/etc/ssh/sshd_config';

/** The effective settings sshd prints with `-T`, lowercase keyword to value(s). */
export type SshdSettings = Map<string, string>;

export class SshdConfigError extends Error {
  override readonly name = 'SshdConfigError';
}

/**
 * Runs `sshd -T` for a login by `user`, so `Match User` blocks apply as they would for a client.
 * The address is the loopback address because the real client addresses are not known here.
 * NOTE: a `Match Address` or `Match Host` block for remote clients is not evaluated.
 */
export async function readSshdSettings(
  sshd: string,
  configFile: string,
  user: string,
): Promise<SshdSettings> {
  // A comma or "=" in the name would add match criteria of the caller's choosing to -C.
  if (!/^[A-Za-z0-9_][A-Za-z0-9._-]*\$?$/.test(user)) {
    throw new SshdConfigError(`--user ${JSON.stringify(user)} is not a valid user name`);
  }
  const run = promisify(execFile);
  const spec = `user=${user},host=borg-gate-doctor,addr=127.0.0.1`;
  let stdout: string;
  try {
    ({ stdout } = await run(sshd, ['-T', '-C', spec, '-f', configFile], {
      timeout: 10_000,
      maxBuffer: 4 * 1024 * 1024,
    }));
  } catch (error) {
    const stderr = String((error as { stderr?: unknown }).stderr ?? '').trim();
    throw new SshdConfigError(
      `${sshd} -T -f ${configFile} failed: ${stderr || (error as Error).message}; check --sshd-config and run the command by hand`,
      { cause: error },
    );
  }
  return parseSshdSettings(stdout);
}

/** Parses `keyword value` lines; a keyword printed several times keeps its values joined by a space. */
export function parseSshdSettings(text: string): SshdSettings {
  const settings: SshdSettings = new Map();
  for (const line of text.split('\n')) {
    const match = /^(\S+)\s+(.*)$/.exec(line.trim());
    if (match === null) {
      continue;
    }
    const keyword = match[1]!.toLowerCase();
    const previous = settings.get(keyword);
    settings.set(keyword, previous === undefined ? match[2]! : `${previous} ${match[2]!}`);
  }
  return settings;
}
