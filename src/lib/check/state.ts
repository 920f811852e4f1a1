import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { open, readFile, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { z } from 'zod';
import type { CheckKind } from './targets.js';

export const CHECK_OUTCOMES = ['ok', 'failed', 'skipped', 'timeout', 'refused'] as const;
export type CheckOutcome = (typeof CHECK_OUTCOMES)[number];

const isoTimestamp = z.iso.datetime();

/** What the last run of one kind of check on one repository did. */
export const checkRecordSchema = z.strictObject({
  /** When borg-gate first planned this check; the overdue clock starts here until a success. */
  first_seen: isoTimestamp,
  last_run: isoTimestamp.optional(),
  last_success: isoTimestamp.optional(),
  duration_ms: z.number().int().min(0).optional(),
  outcome: z.enum(CHECK_OUTCOMES).optional(),
  message: z.string().optional(),
  /** Set after a `skipped` run: the next run retries without waiting for the interval. */
  retry: z.boolean().optional(),
  /** Set while the last finished (not skipped) check failed; the next success sends a recovery alert. */
  failing: z.boolean().optional(),
  /** Last overdue alert, so an overdue check alerts once per interval and not on every run. */
  last_overdue_alert: isoTimestamp.optional(),
});

export const checkStateSchema = z.strictObject({
  version: z.literal(1),
  repositories: z.record(
    z.string(),
    z.strictObject({
      repository_only: checkRecordSchema.optional(),
      verify_data: checkRecordSchema.optional(),
    }),
  ),
});

export type CheckRecord = z.output<typeof checkRecordSchema>;
export type CheckState = z.output<typeof checkStateSchema>;

/** The state file is missing fields, is not JSON, or cannot be read or written. */
export class CheckStateError extends Error {
  override readonly name = 'CheckStateError';

  constructor(
    readonly file: string,
    detail: string,
    options?: { cause?: unknown },
  ) {
    super(`check state ${file}: ${detail}`, options);
  }
}

export function emptyCheckState(): CheckState {
  return { version: 1, repositories: {} };
}

/** Reads and validates the state file; a missing file is an empty state. Throws CheckStateError. */
export async function readCheckState(file: string): Promise<CheckState> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      return emptyCheckState();
    }
    throw new CheckStateError(file, `cannot read: ${(error as Error).message}`, { cause: error });
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    throw new CheckStateError(
      file,
      'is not valid JSON; move it aside and rerun `borg-gate check`',
      {
        cause: error,
      },
    );
  }
  const result = checkStateSchema.safeParse(data);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    throw new CheckStateError(
      file,
      `invalid at ${issue.path.join('.') || '(top level)'}: ${issue.message}`,
      { cause: result.error },
    );
  }
  return result.data;
}

/**
 * Replaces the state file atomically with mode 0600, because messages name repository
 * paths: a new file is written, flushed and renamed over the old one.
 */
export async function writeCheckState(file: string, state: CheckState): Promise<void> {
  try {
    await replaceFile(file, `${JSON.stringify(state, null, 2)}\n`);
  } catch (error) {
    throw new CheckStateError(file, `cannot write: ${(error as Error).message}`, { cause: error });
  }
}

// NOTE: written here instead of with write-file-atomic, which reads `__filename`, a
// name the ESM bundle in dist/ does not define.
async function replaceFile(file: string, text: string): Promise<void> {
  const temporary = join(dirname(file), `.${basename(file)}.${randomBytes(6).toString('hex')}`);
  // O_EXCL: a file or symlink planted at the temporary name makes the write fail, not follow it.
  const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;
  const handle = await open(temporary, flags, 0o600);
  try {
    await handle.writeFile(text, 'utf8');
    await handle.sync();
  } catch (error) {
    await handle.close();
    await unlink(temporary).catch(() => {});
    throw error;
  }
  await handle.close();
  await rename(temporary, file);
}

/** Returns the record for one repository and kind, creating it with `first_seen = now`. */
export function recordFor(
  state: CheckState,
  repository: string,
  kind: CheckKind,
  now: Date,
): CheckRecord {
  const entry = state.repositories[repository] ?? {};
  state.repositories[repository] = entry;
  const record = entry[kind] ?? { first_seen: now.toISOString() };
  entry[kind] = record;
  return record;
}
