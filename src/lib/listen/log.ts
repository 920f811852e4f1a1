import pino, { type Logger } from 'pino';

/**
 * Creates the service log: one JSON record per event on stderr, or appended to `file`. Writes are
 * synchronous so the stop record is on disk before the process exits; the volume is a few records
 * per connection.
 */
export function createListenLogger(file?: string, level = 'info'): Logger {
  const destination =
    file === undefined
      ? pino.destination({ dest: 2, sync: true })
      : pino.destination({ dest: file, append: true, mkdir: false, sync: true });
  return pino(
    {
      name: 'borg-gate-listen',
      level,
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    destination,
  );
}
