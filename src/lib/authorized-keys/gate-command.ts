import { basename, isAbsolute, resolve } from 'node:path';
import { AuthorizedKeysError } from './errors.js';

// Kept apart from entry formatting so `keys lookup`, run by sshd on every offered key, loads
// neither ipaddr nor the policy schema.

/** Paths of borg-gate, the policy and the audit log in the forced command. */
export interface GateCommand {
  /** Absolute path of the borg-gate executable that sshd runs. */
  gatePath: string;
  /** Absolute path of the policy; `--policy` is written only when it is not the default. */
  policyFile: string;
  /**
   * The policy's audit_log. Written as `--audit-log` when it is not the default, so a session
   * refused because the policy cannot be loaded is still recorded where the auditors look.
   */
  auditLog?: string;
}

// sshd runs the forced command through the user's shell, so every word must need no quoting.
const SHELL_SAFE_PATH = /^\/[A-Za-z0-9._/+@:,-]*$/;

/** Checks that every path can go into `command="..."` unquoted; throws AuthorizedKeysError. */
export function checkGateCommand(command: GateCommand): void {
  for (const [option, path] of [
    ['--gate-path', command.gatePath],
    ['--policy', command.policyFile],
    ['audit_log', command.auditLog],
  ] as const) {
    if (path === undefined) {
      continue;
    }
    if (!isAbsolute(path) || !SHELL_SAFE_PATH.test(path)) {
      throw new AuthorizedKeysError(
        `${option} ${JSON.stringify(path)} must be an absolute path of letters, digits and "._/+@:,-" because sshd passes the forced command to a shell`,
      );
    }
  }
}

/**
 * Returns the path sshd should run: the script this process was started as, without resolving
 * symlinks, so a global npm install keeps its stable `bin` link (e.g. /usr/local/bin/borg-gate)
 * across upgrades. Throws when this process was not started as borg-gate (e.g. under a test runner).
 */
export function defaultGatePath(script = process.argv[1]): string {
  if (script === undefined || !/^borg-gate(\.js|\.mjs)?$/.test(basename(script))) {
    throw new AuthorizedKeysError(
      'cannot tell where the borg-gate executable is; pass --gate-path /absolute/path/to/borg-gate',
    );
  }
  return isAbsolute(script) ? script : resolve(script);
}
