import { execFile } from 'node:child_process';
import type { Stats } from 'node:fs';
import { lstat, readFile } from 'node:fs/promises';
import { isAbsolute, join } from 'node:path';
import { promisify } from 'node:util';
import type { DoctorOptions, Loaded } from './context.js';
import type { SshdSettings } from './sshd.js';

const run = promisify(execFile);

/** Resolves a user name to its uid through `id`, so NSS sources such as LDAP count too. */
export async function lookupUid(user: string): Promise<number> {
  if (!/^[A-Za-z0-9_][A-Za-z0-9._-]*\$?$/.test(user)) {
    throw new Error(`--user ${JSON.stringify(user)} is not a valid user name`);
  }
  try {
    return Number((await run('id', ['-u', '--', user])).stdout.trim());
  } catch (error) {
    throw new Error(`user ${JSON.stringify(user)} not found; pass the backup user with --user`, {
      cause: error,
    });
  }
}

/**
 * Finds and reads the authorized_keys file: `--authorized-keys`, else BORG_GATE_AUTHORIZED_KEYS,
 * else the first AuthorizedKeysFile entry from sshd -T with %h, %u and %% expanded.
 * Returns undefined when none of these names a file.
 */
export async function locateAuthorizedKeys(
  options: DoctorOptions,
  sshd: SshdSettings | undefined,
  env = process.env,
): Promise<Loaded<{ file: string; text: string; info: Stats }> | undefined> {
  let file = options.authorizedKeysFile ?? (env.BORG_GATE_AUTHORIZED_KEYS || undefined);
  if (file === undefined) {
    file = await fromSshdSetting(sshd?.get('authorizedkeysfile'), options.user);
  }
  if (file === undefined) {
    return undefined;
  }
  try {
    const info = await lstat(file);
    const text = await readFile(file, 'utf8');
    return { ok: true, value: { file, text, info } };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'error';
    return { ok: false, error: `${file}: cannot read (${code})` };
  }
}

async function fromSshdSetting(
  setting: string | undefined,
  user: string,
): Promise<string | undefined> {
  const first = setting?.split(/\s+/)[0];
  if (first === undefined || first === 'none') {
    return undefined;
  }
  const home = await homeOf(user);
  if (home === undefined) {
    return undefined;
  }
  const expanded = first.replace(/%(.)/g, (whole, letter: string) => {
    if (letter === 'h') {
      return home;
    }
    if (letter === 'u') {
      return user;
    }
    return letter === '%' ? '%' : whole;
  });
  return isAbsolute(expanded) ? expanded : join(home, expanded);
}

async function homeOf(user: string): Promise<string | undefined> {
  try {
    const line = (await run('getent', ['passwd', '--', user])).stdout.trim();
    return line.split(':')[5] || undefined;
  } catch {
    return undefined;
  }
}
