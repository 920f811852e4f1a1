import { readFile } from 'node:fs/promises';
import writeFileAtomic from 'write-file-atomic';
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

/** Replaces the state file atomically with mode 0600, because messages name repository paths. */
export async function writeCheckState(file: string, state: CheckState): Promise<void> {
  try {
    await writeFileAtomic(file, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
  } catch (error) {
    throw new CheckStateError(file, `cannot write: ${(error as Error).message}`, { cause: error });
  }
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
