import { posix } from 'node:path';
import { z } from 'zod';

/** A duration as the admin writes it: a whole number and one unit of s, m, h, d or w. */
const DURATION_PATTERN = /^([0-9]{1,6})([smhdw])$/;

const UNIT_MS: Record<string, number> = {
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};

/** Converts `90s`, `30m`, `6h`, `7d` or `2w` to milliseconds; returns undefined for anything else. */
export function parseDuration(text: string): number | undefined {
  const match = DURATION_PATTERN.exec(text);
  if (match === null) {
    return undefined;
  }
  const amount = Number(match[1]);
  return amount > 0 ? amount * UNIT_MS[match[2]!]! : undefined;
}

const duration = z.string().transform((value, ctx) => {
  const ms = parseDuration(value);
  if (ms === undefined) {
    ctx.addIssue({
      code: 'custom',
      message: `"${value}" is not a duration: write a positive whole number and s, m, h, d or w (for example 7d)`,
    });
    return z.NEVER;
  }
  return ms;
});

const absoluteCheckPath = z
  .string()
  .refine(
    (value) => value.startsWith('/') && posix.normalize(value) === value && !value.endsWith('/'),
    { message: 'must be an absolute, normalized path without a trailing slash' },
  );

/** argv array whose program is an absolute path, so PATH cannot pick a different binary. */
const absoluteArgv = z
  .array(z.string().min(1))
  .min(1, 'needs at least the program path')
  .refine((argv) => argv.length === 0 || argv[0]!.startsWith('/'), {
    message: 'the program (first element) must be an absolute path',
  })
  // NUL cannot reach a child's argv or environment, so it could only truncate the value silently.
  .refine((argv) => argv.every((arg) => !arg.includes('\0')), { message: 'contains a NUL byte' });

/** A factor of the interval (1.5) or a fixed duration (10d) after which a missing success alerts. */
const overdueAfter = z.union([
  z
    .number()
    .min(1, 'a factor below 1 would alert before the check is due')
    .transform((factor) => ({ factor })),
  duration.transform((ms) => ({ ms })),
]);

const scheduleFields = {
  repository_only_every: duration.optional(),
  verify_data_every: duration.optional(),
  timeout: duration.optional(),
  /** Seconds borg waits for the repository lock (`borg --lock-wait`). */
  lock_wait: z.number().int().min(0).max(86_400).optional(),
  overdue_after: overdueAfter.optional(),
  alert_command: absoluteArgv.optional(),
};

export const checkDefaultsSchema = z.strictObject(scheduleFields);

export const checkRepositorySchema = z
  .strictObject({
    ...scheduleFields,
    /** File holding the repository passphrase; it must be mode 0600 or stricter and owned by the checking user. */
    passphrase_file: absoluteCheckPath.optional(),
    /** Program that prints the passphrase; borg runs it from BORG_PASSCOMMAND. */
    passcommand: absoluteArgv.optional(),
    /** The repository was created with `--encryption none`, so `--verify-data` needs no passphrase. */
    unencrypted: z.boolean().optional(),
    /** Leaves this repository out of scheduled and manual checks. */
    disabled: z.boolean().optional(),
  })
  .refine((entry) => entry.passphrase_file === undefined || entry.passcommand === undefined, {
    message: 'set passphrase_file or passcommand, not both',
  })
  .refine(
    (entry) => !(entry.unencrypted === true && (entry.passphrase_file ?? entry.passcommand)),
    {
      message: 'an unencrypted repository has no passphrase; remove passphrase_file or passcommand',
    },
  );

/** Schedule, alerting and passphrase sources for `borg-gate check`. */
export const checksSchema = z.strictObject({
  defaults: checkDefaultsSchema.default({}),
  /** Per-repository overrides, and repositories to check that no client lists. */
  repositories: z.record(absoluteCheckPath, checkRepositorySchema).default({}),
  /** State file; defaults to `check-state.json` in the policy's `state_dir`. */
  state_file: absoluteCheckPath.optional(),
});

export type ChecksPolicy = z.output<typeof checksSchema>;
export type CheckRepositoryPolicy = z.output<typeof checkRepositorySchema>;
