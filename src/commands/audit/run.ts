import { AuditLogError } from '../../lib/audit-log/errors.js';
import { PolicyError } from '../../lib/policy/errors.js';
import { TimeArgumentError } from './filter.js';

/** Writes a diagnostic line for the person at the terminal. */
export function warn(message: string): void {
  process.stderr.write(`borg-gate: ${message}\n`);
}

/**
 * Runs an `audit` handler and turns the errors it expects into one stderr line and exit
 * status 2; other errors propagate with their stack.
 */
export async function runAuditHandler(handler: () => Promise<number>): Promise<void> {
  try {
    process.exitCode = await handler();
  } catch (error) {
    if (
      error instanceof AuditLogError ||
      error instanceof PolicyError ||
      error instanceof TimeArgumentError
    ) {
      warn(error.message);
      process.exitCode = 2;
      return;
    }
    throw error;
  }
}
