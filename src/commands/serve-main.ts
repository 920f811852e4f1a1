// Entry of `borg-gate serve`, which sshd runs on every connection. scripts/build.mjs bundles it
// apart from the rest of the CLI, so a connection loads a few large modules instead of many
// small chunks shared with the admin commands.

import { DEFAULT_AUDIT_LOG } from '../lib/policy/policy-file.js';
import { runServe } from './serve.js';
import { parseServeArgv } from './serve-argv.js';

/** Runs `serve` with the arguments after the verb and returns the exit code. */
export async function runServeCommand(args: string[]): Promise<number> {
  const parsed = parseServeArgv(args, DEFAULT_AUDIT_LOG);
  if (typeof parsed === 'string') {
    // An admin error in the forced command line; the client sees a generic line.
    process.stderr.write(`borg-gate: ${parsed}\n`);
    return 2;
  }
  const io = {
    stdin: process.stdin,
    stdout: process.stdout,
    stderr: process.stderr,
    env: process.env,
  };
  const code = await runServe(parsed, io);
  // The client may still be sending after borg exited (killed, or refused mid-session). A read
  // left pending on stdin would keep the gate, and so the client's connection, open forever.
  process.stdin.destroy();
  return code;
}
