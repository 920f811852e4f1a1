import { lstat, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

export const DEFAULT_SYSTEMD_DIR = '/etc/systemd/system';

/** A place where a borg passphrase sits in clear text where others can read it. */
export interface PassphraseExposure {
  file: string;
  reason: 'unit-environment' | 'world-readable-env-file';
}

const PASSPHRASE_ASSIGNMENT = /\bBORG_PASSPHRASE=/;

/**
 * Scans `*.service` units and their `*.service.d/*.conf` drop-ins in one directory.
 * `Environment=` values are shown to every local user by `systemctl show`, so a passphrase there
 * leaks; an `EnvironmentFile=` is only safe while others cannot read it.
 */
export async function findPassphraseExposures(systemdDir: string): Promise<PassphraseExposure[]> {
  const exposures: PassphraseExposure[] = [];
  for (const unit of await listUnitFiles(systemdDir)) {
    const text = await readFile(unit, 'utf8').catch(() => '');
    for (const line of text.split('\n')) {
      const setting = /^\s*(Environment|EnvironmentFile)\s*=\s*(.*)$/.exec(line);
      if (setting === null) {
        continue;
      }
      if (setting[1] === 'Environment' && PASSPHRASE_ASSIGNMENT.test(setting[2]!)) {
        exposures.push({ file: unit, reason: 'unit-environment' });
      }
      if (setting[1] === 'EnvironmentFile') {
        const envFile = setting[2]!.trim().replace(/^-/, '');
        if (await isWorldReadablePassphraseFile(envFile)) {
          exposures.push({ file: envFile, reason: 'world-readable-env-file' });
        }
      }
    }
  }
  return exposures;
}

async function listUnitFiles(systemdDir: string): Promise<string[]> {
  const names = await readdir(systemdDir).catch(() => [] as string[]);
  const files: string[] = [];
  for (const name of names.sort()) {
    const path = join(systemdDir, name);
    if (name.endsWith('.service')) {
      files.push(path);
    } else if (name.endsWith('.service.d')) {
      const dropIns = await readdir(path).catch(() => [] as string[]);
      files.push(
        ...dropIns.filter((entry) => entry.endsWith('.conf')).map((entry) => join(path, entry)),
      );
    }
  }
  return files;
}

async function isWorldReadablePassphraseFile(file: string): Promise<boolean> {
  if (!file.startsWith('/')) {
    return false;
  }
  const info = await lstat(file).catch(() => undefined);
  if (info === undefined || !info.isFile() || (info.mode & 0o004) === 0) {
    return false;
  }
  const text = await readFile(file, 'utf8').catch(() => '');
  return PASSPHRASE_ASSIGNMENT.test(text);
}
