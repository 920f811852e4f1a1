import type { WriteActivity } from '../activity.js';
import { canWrite } from '../clients.js';
import type { DoctorContext } from '../context.js';
import { type Finding, finding, listNames, type RowResult } from '../report.js';

const DAY_MS = 86_400_000;

/** Clients with write access, grouped by when they last wrote. */
interface WriterActivity {
  writers: number;
  recent: number;
  idle: string[];
  neverWrote: string[];
  /** False when the log is younger than the idle period, so "never wrote" means nothing yet. */
  historyCoversPeriod: boolean;
}

/**
 * Row 2: a key used only to restore or monitor should be read-only, so its theft does not give
 * write access. A client with write access that has not committed for `idleDays` is such a key.
 */
export function checkReadOnly(context: DoctorContext): RowResult {
  const row = { id: 'read-only', protection: 'Read-only for restore and monitoring keys' };
  const idleDays = context.options.idleDays;
  if (!context.activity.ok) {
    const detail = `cannot tell which keys write: the audit log is unreadable (${context.activity.error}).`;
    const fix = 'Check `audit_log` in the policy, or run doctor as a user that can read it.';
    return { ...row, summary: '', findings: [finding('partial', {}, detail, fix)] };
  }
  const activity = classifyWriters(context, context.activity.value);
  const findings: Finding[] = [];
  const { idle, neverWrote } = activity;
  if (idle.length + neverWrote.length > 0) {
    const parts = [];
    if (idle.length > 0) {
      parts.push(`no write for more than ${idleDays} days: ${listNames(idle)}`);
    }
    if (neverWrote.length > 0) {
      parts.push(`no write since the audit log starts: ${listNames(neverWrote)}`);
    }
    findings.push(
      finding(
        'partial',
        { clients: [...idle, ...neverWrote] },
        `keys with write access that do not write (${parts.join('; ')}).`,
        'Set `mode: read-only` for restore or monitoring keys, or disable clients that no longer back up (`disabled: true`).',
      ),
    );
  }
  const history = activity.historyCoversPeriod
    ? ''
    : ` The audit log covers less than ${idleDays} days, so clients without any write are not judged yet.`;
  return {
    ...row,
    summary: `${activity.recent} of ${activity.writers} clients with write access committed within ${idleDays} days.${history}`,
    findings,
  };
}

function classifyWriters(context: DoctorContext, log: WriteActivity): WriterActivity {
  const cutoff = context.now.getTime() - context.options.idleDays * DAY_MS;
  const result: WriterActivity = {
    writers: 0,
    recent: 0,
    idle: [],
    neverWrote: [],
    historyCoversPeriod: log.firstRecord !== undefined && log.firstRecord.getTime() <= cutoff,
  };
  for (const { client, grants } of context.clients) {
    if (!grants.some(canWrite)) {
      continue;
    }
    result.writers++;
    const last = log.lastWrite.get(client.id);
    if (last !== undefined && last.getTime() >= cutoff) {
      result.recent++;
    } else if (last !== undefined) {
      result.idle.push(client.id);
    } else if (result.historyCoversPeriod) {
      result.neverWrote.push(client.id);
    }
  }
  return result;
}
