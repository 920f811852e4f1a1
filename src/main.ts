// Entry point. `serve` runs on every SSH connection and `keys lookup` on every key sshd checks,
// so both are dispatched here without loading yargs or any other command. Everything else goes
// through the full CLI.

const DEFAULT_FALLBACK_AUDIT_LOG = '/var/log/borg-gate/audit.log';

const argv = process.argv.slice(2);

if (argv[0] === 'serve' && !argv.includes('--help')) {
  const { parseServeArgv } = await import('./commands/serve-argv.js');
  const parsed = parseServeArgv(argv.slice(1), DEFAULT_FALLBACK_AUDIT_LOG);
  if (typeof parsed === 'string') {
    // An admin error in the forced command line; the client sees a generic line.
    process.stderr.write(`borg-gate: ${parsed}\n`);
    process.exitCode = 2;
  } else {
    const { runServe } = await import('./commands/serve.js');
    const io = {
      stdin: process.stdin,
      stdout: process.stdout,
      stderr: process.stderr,
      env: process.env,
    };
    process.exitCode = await runServe(parsed, io);
    // The client may still be sending after borg exited (killed, or refused mid-session). A read
    // left pending on stdin would keep the gate, and so the client's connection, open forever.
    process.stdin.destroy();
  }
} else if (argv[0] === 'keys' && argv[1] === 'lookup' && !argv.includes('--help')) {
  const { runLookupCommand } = await import('./commands/keys/lookup.js');
  process.exitCode = await runLookupCommand(argv.slice(2));
} else {
  const { runCli } = await import('./cli.js');
  await runCli(argv);
}
