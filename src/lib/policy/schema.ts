import { z } from 'zod';
import { isStorageQuota } from '../borg-args/size.js';
import { checksSchema } from './checks-schema.js';
import { DEFAULT_AUDIT_LOG } from './policy-file.js';
import {
  CLIENT_ID_PATTERN,
  describeCidrProblem,
  describePathProblem,
  parseExpiry,
} from './values.js';

// Re-exported so callers keep one import; hot-path code imports values.js, which has no zod.
export { CLIENT_ID_PATTERN, parseCidr, parseExpiry } from './values.js';

export const MODES = ['append-only', 'read-write', 'read-only'] as const;
export type Mode = (typeof MODES)[number];

/** borg's own size syntax for `--storage-quota`: a decimal number with an optional K, M, G, T or P suffix. */
const STORAGE_QUOTA_PATTERN = /^[0-9]+(\.[0-9]+)?[KMGTP]?$/;

const absolutePath = z.string().superRefine((value, ctx) => {
  const problem = describePathProblem(value);
  if (problem !== undefined) {
    ctx.addIssue({ code: 'custom', message: problem });
  }
});

const dateOrTimestamp = z.union([z.string(), z.date()]).transform((value, ctx) => {
  const parsed = parseExpiry(value);
  if (parsed === undefined) {
    ctx.addIssue({
      code: 'custom',
      message: `"${String(value)}" is not a date: use YYYY-MM-DD or an ISO 8601 timestamp`,
    });
    return z.NEVER;
  }
  return parsed;
});

const storageQuota = z
  .string()
  .regex(STORAGE_QUOTA_PATTERN, 'storage_quota must look like 500M, 50G or 2T (borg size syntax)')
  // borg serve exits with a usage error below 10M, so every session of the client would fail.
  .superRefine((value, context) => {
    if (STORAGE_QUOTA_PATTERN.test(value) && !isStorageQuota(value)) {
      context.addIssue({
        code: 'custom',
        message: `storage_quota "${value}" is below borg's minimum of 10M: write 10M or more`,
      });
    }
  });

const cidr = z.string().superRefine((value, context) => {
  const problem = describeCidrProblem(value);
  if (problem !== undefined) {
    context.addIssue({ code: 'custom', message: problem });
  }
});

/** A server borg binary: a path, or a path with its major version (1 unless stated). */
const binarySchema = z.union([
  absolutePath,
  z.strictObject({ path: absolutePath, major: z.union([z.literal(1), z.literal(2)]).default(1) }),
]);

export const keyEntrySchema = z.union([
  z.string(),
  z.strictObject({
    key: z.string(),
    expires: dateOrTimestamp.optional(),
    /** When the key entered the policy; `keys add` and `keys rotate` set it. */
    added: dateOrTimestamp.optional(),
  }),
]);

export const repositoryEntrySchema = z.union([
  absolutePath,
  z.strictObject({
    path: absolutePath,
    /** Short name shown to a refused client instead of the server path. */
    name: z
      .string()
      .regex(CLIENT_ID_PATTERN, 'name must be 1-64 characters of A-Z, a-z, 0-9, ".", "_" or "-"')
      .optional(),
    mode: z.enum(MODES).optional(),
    storage_quota: storageQuota.optional(),
    /** Set when several clients are meant to share this repository; `doctor` then does not warn. */
    shared: z.boolean().optional(),
  }),
]);

export const clientSchema = z.strictObject({
  id: z
    .string()
    .regex(
      CLIENT_ID_PATTERN,
      'id must be 1-64 characters of A-Z, a-z, 0-9, ".", "_" or "-", starting with a letter or digit',
    ),
  keys: z.array(keyEntrySchema).min(1, 'a client needs at least one public key'),
  repositories: z.array(repositoryEntrySchema).default([]),
  paths: z.array(absolutePath).default([]),
  mode: z.enum(MODES).default('append-only'),
  storage_quota: storageQuota.optional(),
  from: z.array(cidr).optional(),
  expires: dateOrTimestamp.optional(),
  disabled: z.boolean().default(false),
  /** Read-only clients may run `borg check`, which takes an exclusive lock and rewrites the repository config. */
  allow_check: z.boolean().default(true),
  comment: z.string().optional(),
});

export const policySchema = z.strictObject({
  version: z.literal(1),
  /** Program names a client may ask for with `--remote-path`, each mapped to the server binary that runs. */
  borg: z
    .strictObject({
      binaries: z.record(z.string().min(1), binarySchema).default({ borg: '/usr/bin/borg' }),
      umask: z
        .string()
        .regex(/^0?[0-7]{3}$/, 'umask must be octal, for example "0077"')
        .default('0077'),
    })
    .default({ binaries: { borg: '/usr/bin/borg' }, umask: '0077' }),
  audit_log: absolutePath.default(DEFAULT_AUDIT_LOG),
  state_dir: absolutePath.default('/var/lib/borg-gate'),
  checks: checksSchema.optional(),
  clients: z.array(clientSchema),
});

export type PolicyInput = z.input<typeof policySchema>;
export type Policy = z.output<typeof policySchema>;
export type Client = z.output<typeof clientSchema>;
export type KeyEntry = z.output<typeof keyEntrySchema>;
export type RepositoryEntry = z.output<typeof repositoryEntrySchema>;
