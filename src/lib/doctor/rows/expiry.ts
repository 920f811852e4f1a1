import type { DoctorContext } from '../context.js';
import { type Finding, finding, listNames } from '../report.js';

const DAY_MS = 86_400_000;
/** Keys that expire within this many days are reported, so a client does not stop backing up unnoticed. */
export const EXPIRY_WARNING_DAYS = 14;

/**
 * Finds clients that lose access within the warning window: the client expires, or every key it still
 * has expires. An old key that `keys rotate` set to expire next to a new key is not reported.
 */
export function findExpiringKeys(context: DoctorContext): Finding[] {
  const horizon = context.now.getTime() + EXPIRY_WARNING_DAYS * DAY_MS;
  const soon = (date: Date | undefined) =>
    date !== undefined && date > context.now && date.getTime() <= horizon;
  const expiring: string[] = [];
  for (const { client } of context.clients) {
    const live = client.keys
      .map((entry) => (typeof entry === 'string' ? undefined : entry.expires))
      .filter((date) => date === undefined || date > context.now);
    if (soon(client.expires) || (live.length > 0 && live.every(soon))) {
      expiring.push(client.id);
    }
  }
  if (expiring.length === 0) {
    return [];
  }
  return [
    finding(
      'partial',
      { clients: expiring },
      `clients whose access expires within ${EXPIRY_WARNING_DAYS} days: ${listNames(expiring)}.`,
      'Rotate the key (`borg-gate keys rotate`) or move `expires` if the access is still needed.',
    ),
  ];
}
