import { canWrite } from '../clients.js';
import type { DoctorContext } from '../context.js';
import { type Finding, finding, listNames, type RowResult } from '../report.js';

const DAY_MS = 86_400_000;

/**
 * Row 2: a key used only to restore or monitor should be read-only, so its theft does not give
 * write access. A client with write access that has not committed for `idleDays` is such a key.
 */
export function checkReadOnly(context: DoctorContext): RowResult {
  const row = { id: 'read-only', protection: 'Read-only for restore and monitoring keys' };
  const idleDays = context.options.idleDays;
  if (!context.activity.ok) {
    return {
      ...row,
      summary: '',
      findings: [
        finding(
          'partial',
          {},
          `cannot tell which keys write: the audit log is unreadable (${context.activity.error}).`,
          'Check `audit_log` in the policy, or run doctor as a user that can read it.',
        ),
      ],
    };
  }
  const { lastWrite, firstRecord } = context.activity.value;
  const cutoff = context.now.getTime() - idleDays * DAY_MS;
  // With less history than the idle period, a client that never wrote may simply not be due yet.
  const historyCoversPeriod = firstRecord !== undefined && firstRecord.getTime() <= cutoff;
  const idle: string[] = [];
  const neverWrote: string[] = [];
  let writers = 0;
  let recent = 0;
  for (const { client, grants } of context.clients) {
    if (!grants.some(canWrite)) {
      continue;
    }
    writers++;
    const last = lastWrite.get(client.id);
    if (last !== undefined && last.getTime() >= cutoff) {
      recent++;
    } else if (last !== undefined) {
      idle.push(client.id);
    } else if (last === undefined && historyCoversPeriod) {
      neverWrote.push(client.id);
    }
  }
  const findings: Finding[] = [];
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
  const history = historyCoversPeriod
    ? ''
    : ` The audit log covers less than ${idleDays} days, so clients without any write are not judged yet.`;
  return {
    ...row,
    summary: `${recent} of ${writers} clients with write access committed within ${idleDays} days.${history}`,
    findings,
  };
}
