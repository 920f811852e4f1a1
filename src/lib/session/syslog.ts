import { spawn } from 'node:child_process';
import { escapeUntrusted } from '../audit-log/escape.js';

/** The util-linux logger command, by absolute path so no PATH entry can stand in for it. */
export const SYSLOG_COMMAND: readonly string[] = ['/usr/bin/logger'];

/** Maximum length of the message passed to logger, in characters, so one refusal is one line. */
const MAX_MESSAGE_CHARS = 1000;

/** Time after which a logger that hangs on a stuck /dev/log is killed. */
const LOGGER_TIMEOUT_MS = 2000;

/**
 * Writes one line to the system log (facility authpriv, next to sshd's login lines) when a
 * refusal cannot be recorded in any audit log. Resolves when logger exits or is killed after
 * LOGGER_TIMEOUT_MS, and never rejects, so a broken system log cannot change the refusal.
 */
export function reportToSyslog(
  text: string,
  command: readonly string[] = SYSLOG_COMMAND,
): Promise<void> {
  const [file, ...prefix] = command;
  if (file === undefined) {
    return Promise.resolve();
  }
  const args = [
    ...prefix,
    `--id=${process.pid}`,
    '-t',
    'borg-gate',
    '-p',
    'authpriv.err',
    '--',
    escapeUntrusted(text, MAX_MESSAGE_CHARS),
  ];
  return new Promise((resolve) => {
    try {
      const child = spawn(file, args, {
        stdio: 'ignore',
        env: { PATH: '/usr/bin:/bin' },
        timeout: LOGGER_TIMEOUT_MS,
      });
      child.on('error', () => resolve());
      child.on('close', () => resolve());
    } catch {
      // spawn throws synchronously only for invalid arguments; the refusal goes on without it.
      resolve();
    }
  });
}
