/**
 * The audit log could not be opened, locked, read or appended. Callers treat it as
 * fatal, so a session whose record can not be written is refused before borg starts.
 */
export class AuditLogError extends Error {
  override readonly name = 'AuditLogError';

  constructor(
    readonly file: string,
    readonly detail: string,
    options?: { cause?: unknown },
  ) {
    super(`audit log ${file}: ${detail}`, options);
  }
}

/** Returns the `code` of a Node.js system error, or undefined for other values. */
export function errorCode(error: unknown): string | undefined {
  if (error instanceof Error && 'code' in error && typeof error.code === 'string') {
    return error.code;
  }
  return undefined;
}
