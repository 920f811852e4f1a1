import ipaddr from 'ipaddr.js';

// Policy value rules without zod, so `serve` can check them without loading the schema.

/** Client ids appear in authorized_keys command lines and log records, so they stay shell- and log-safe. */
export const CLIENT_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** Parses a policy expiry: a date alone means the start of that day in UTC. */
export function parseExpiry(value: string | Date): Date | undefined {
  if (value instanceof Date) {
    return Number.isNaN(value.getTime()) ? undefined : value;
  }
  const dateOnly = /^\d{4}-\d{2}-\d{2}$/.test(value);
  const isoLike = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$/.test(
    value,
  );
  if ((!dateOnly && !isoLike) || !isCalendarDate(value.slice(0, 10))) {
    return undefined;
  }
  const parsed = new Date(dateOnly ? `${value}T00:00:00Z` : value);
  return Number.isNaN(parsed.getTime()) ? undefined : parsed;
}

/** Returns true when `YYYY-MM-DD` names a real day; Date would roll 2027-02-30 over to March. */
function isCalendarDate(text: string): boolean {
  const [year, month, day] = text.split('-').map(Number) as [number, number, number];
  const date = new Date(Date.UTC(year, month - 1, day));
  return (
    date.getUTCFullYear() === year && date.getUTCMonth() === month - 1 && date.getUTCDate() === day
  );
}

/** Parses an address or CIDR range; a bare address becomes a single-host range. */
export function parseCidr(value: string): [ipaddr.IPv4 | ipaddr.IPv6, number] | undefined {
  try {
    if (value.includes('/')) {
      return ipaddr.parseCIDR(value);
    }
    const address = ipaddr.parse(value);
    return [address, address.kind() === 'ipv4' ? 32 : 128];
  } catch {
    return undefined;
  }
}
