import type { ListenConfig } from './config.js';
import { createListenLogger } from './log.js';
import { startListenServer } from './server.js';

/** Runs the server until SIGTERM or SIGINT and returns the process exit code. */
export async function runListen(config: ListenConfig, logFile?: string): Promise<number> {
  const log = createListenLogger(logFile);
  let server: Awaited<ReturnType<typeof startListenServer>>;
  try {
    server = await startListenServer(config, log);
  } catch (error) {
    log.fatal({ event: 'listen_failed', err: error }, 'failed to start');
    process.stderr.write(`borg-gate listen: ${(error as Error).message}\n`);
    return 1;
  }
  const stopped = new Promise<string>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
  process.on('SIGHUP', () => {
    log.info(
      { event: 'sighup_ignored' },
      'SIGHUP ignored: the policy is re-read when its file changes',
    );
  });
  const reason = await stopped;
  // A second signal during the graceful stop ends the process at once.
  process.once('SIGTERM', () => process.exit(143));
  process.once('SIGINT', () => process.exit(130));
  await server.shutdown(reason);
  return 0;
}
