import { z } from 'zod';

export const STATUSES = ['implemented', 'partial', 'missing'] as const;
export type Status = (typeof STATUSES)[number];

/** Exit codes: 0, 1 and 2 follow the posture; 3 means doctor could not run (like a monitoring plugin's UNKNOWN). */
export const EXIT_CODES = { implemented: 0, partial: 1, missing: 2, cannotRun: 3 } as const;

export const REPORT_SCHEMA_VERSION = 1;

/** One gap in a protection, with the clients and repositories it concerns and the fix. */
export const findingSchema = z.strictObject({
  status: z.enum(['partial', 'missing']),
  clients: z.array(z.string()),
  repositories: z.array(z.string()),
  detail: z.string().min(1),
  fix: z.string().min(1),
});

/** One protection from BorgBackup's hardening guidance and how far this server implements it. */
export const protectionSchema = z.strictObject({
  id: z.string().regex(/^[a-z][a-z0-9-]*$/),
  protection: z.string().min(1),
  status: z.enum(STATUSES),
  clients: z.array(z.string()),
  repositories: z.array(z.string()),
  /** What was checked, and for a gap what was found. */
  detail: z.string().min(1),
  /** The command or policy change that closes every gap; empty when the protection is implemented. */
  fix: z.string(),
  findings: z.array(findingSchema),
});

export const reportSchema = z.strictObject({
  schema_version: z.literal(REPORT_SCHEMA_VERSION),
  generated_at: z.iso.datetime(),
  policy_file: z.string(),
  status: z.enum(STATUSES),
  exit_code: z.union([z.literal(0), z.literal(1), z.literal(2)]),
  protections: z.array(protectionSchema),
  duration_ms: z.number().int().min(0),
});

export type Finding = z.infer<typeof findingSchema>;
export type Protection = z.infer<typeof protectionSchema>;
export type Report = z.infer<typeof reportSchema>;

/** What a row check returns before the runner fills in status and totals. */
export interface RowResult {
  id: string;
  protection: string;
  /** Shown when there is no finding: what was checked and found in order. */
  summary: string;
  findings: Finding[];
}

const RANK: Record<Status, number> = { implemented: 0, partial: 1, missing: 2 };

export function worstStatus(statuses: Iterable<Status>): Status {
  let worst: Status = 'implemented';
  for (const status of statuses) {
    if (RANK[status] > RANK[worst]) {
      worst = status;
    }
  }
  return worst;
}

/** Turns a row result into a protection: status, subjects and fix are the union over its findings. */
export function toProtection(row: RowResult): Protection {
  const status = worstStatus(row.findings.map((finding) => finding.status));
  const clients = new Set(row.findings.flatMap((finding) => finding.clients));
  const repositories = new Set(row.findings.flatMap((finding) => finding.repositories));
  const details = row.findings.map((finding) => finding.detail);
  const fixes = [...new Set(row.findings.map((finding) => finding.fix))];
  return {
    id: row.id,
    protection: row.protection,
    status,
    clients: [...clients].sort(),
    repositories: [...repositories].sort(),
    detail: details.length === 0 ? row.summary : details.join(' '),
    fix: fixes.join(' '),
    findings: row.findings,
  };
}

/** Builds a finding; lists are sorted and deduplicated so reports compare stably. */
export function finding(
  status: Finding['status'],
  subjects: { clients?: Iterable<string>; repositories?: Iterable<string> },
  detail: string,
  fix: string,
): Finding {
  return {
    status,
    clients: [...new Set(subjects.clients ?? [])].sort(),
    repositories: [...new Set(subjects.repositories ?? [])].sort(),
    detail,
    fix,
  };
}

/** Joins names for a sentence, cutting long lists so a table cell stays readable. */
export function listNames(names: readonly string[], max = 5): string {
  if (names.length <= max) {
    return names.join(', ');
  }
  return `${names.slice(0, max).join(', ')} and ${names.length - max} more`;
}
