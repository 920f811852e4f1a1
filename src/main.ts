// Entry point. `serve` runs on every SSH connection and `keys lookup` on every key sshd checks,
// so both are dispatched here without loading yargs or any other command. Everything else goes
// through the full CLI.

const argv = process.argv.slice(2);

if (argv[0] === 'serve' && !argv.includes('--help')) {
  const { runServeCommand } = await import('./commands/serve-main.js');
  process.exitCode = await runServeCommand(argv.slice(1));
} else if (argv[0] === 'keys' && argv[1] === 'lookup' && !argv.includes('--help')) {
  const { runLookupCommand } = await import('./commands/keys/lookup.js');
  process.exitCode = await runLookupCommand(argv.slice(2));
} else {
  const { runCli } = await import('./cli.js');
  await runCli(argv);
}
