import { posix } from 'node:path';
import ipaddr from 'ipaddr.js';

// Policy value rules without zod, so `serve` can check them without loading the schema.

/** Client ids appear in authorized_keys command lines and log records, so they stay shell- and log-safe. */
export const CLIENT_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** A date and time of day, then an optional zone: Z or an offset, maybe after one space. */
const TIMESTAMP =
  /^(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?) ?([Zz]|[+-]\d{2}:?\d{2})?$/;

/**
 * Parses a policy expiry. A date alone means the start of that day in UTC, and so does a time
 * without a zone: the result must not depend on the TZ of the process that reads the policy.
 */
export function parseExpiry(value: string | Date): Date | undefined {
  if (value instanceof Date) {
    return Number.isNaN(value.getTime()) ? undefined : value;
  }
  const dateOnly = /^\d{4}-\d{2}-\d{2}$/.test(value);
  const timestamp = TIMESTAMP.exec(value);
  if ((!dateOnly && timestamp === null) || !isCalendarDate(value.slice(0, 10))) {
    return undefined;
  }
  const iso =
    timestamp === null
      ? `${value}T00:00:00Z`
      : `${timestamp[1]}T${timestamp[2]}${normalZone(timestamp[3] ?? 'Z')}`;
  const parsed = new Date(iso);
  return Number.isNaN(parsed.getTime()) ? undefined : parsed;
}

/** Writes an offset as +HH:MM, the form every JavaScript engine reads. */
function normalZone(zone: string): string {
  if (zone === 'Z' || zone === 'z') {
    return 'Z';
  }
  return zone.includes(':') ? zone : `${zone.slice(0, 3)}:${zone.slice(3)}`;
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
export function parseCidr(value: string): Cidr | undefined {
  const parsed = parseCidrText(value);
  return parsed !== undefined && cidrProblem(value, parsed) === undefined ? parsed : undefined;
}

type Cidr = [ipaddr.IPv4 | ipaddr.IPv6, number];

const CIDR_EXAMPLES = '(examples: 192.0.2.10, 198.51.100.0/24, 2001:db8::/32)';

/**
 * Returns why `value` is not an address or CIDR range borg-gate accepts, or undefined. IPv4
 * must be four decimal parts without leading zeros: ipaddr.js, like inet_aton, reads "010" as
 * octal 8 and "0x0a" as 10, so "192.168.001.010" would mean 192.168.1.8. IPv4-mapped IPv6
 * ranges are refused because sshd reports IPv4 clients as plain IPv4, so they never match.
 */
export function describeCidrProblem(value: string): string | undefined {
  const parsed = parseCidrText(value);
  if (parsed === undefined) {
    return `not an IP address or CIDR range ${CIDR_EXAMPLES}`;
  }
  return cidrProblem(value, parsed);
}

/** Describes how programs read an IPv4 text that is not four plain decimal numbers. */
function describeReadings(octal: string, decimal: string | undefined): string {
  if (decimal === undefined) {
    return `some programs read it as ${octal}`;
  }
  if (decimal === octal) {
    return `it means ${octal}, but leading zeros are read as octal in other places`;
  }
  return `some programs read it as octal (${octal}), others as decimal (${decimal})`;
}

function cidrProblem(value: string, [address, prefix]: Cidr): string | undefined {
  const [text, prefixText] = value.split('/') as [string, string | undefined];
  if (prefixText !== undefined && !/^(?:0|[1-9]\d*)$/.test(prefixText)) {
    return `"${value}" has the prefix length "${prefixText}"; write it as a decimal number without leading zeros, such as /${prefix}`;
  }
  if (address.kind() === 'ipv4' && !ipaddr.IPv4.isValidFourPartDecimal(text)) {
    const suffix = prefixText === undefined ? '' : `/${prefix}`;
    const parts = text.split('.');
    // With four decimal parts, the likely meaning is the one without the zeros.
    const decimal =
      parts.length === 4 && parts.every((part) => /^\d+$/.test(part))
        ? `${parts.map((part) => String(Number(part))).join('.')}${suffix}`
        : undefined;
    const octal = `${address.toString()}${suffix}`;
    const readings = describeReadings(octal, decimal);
    return `"${value}" is not four plain decimal numbers: ${readings}; write each part as a decimal number without leading zeros`;
  }
  if (address.kind() === 'ipv6' && (address as ipaddr.IPv6).isIPv4MappedAddress()) {
    const ipv4 = (address as ipaddr.IPv6).toIPv4Address().toString();
    const range = prefixText === undefined ? ipv4 : `${ipv4}/${Math.max(prefix - 96, 0)}`;
    return `"${value}" is an IPv4 address written as IPv6, which never matches because sshd reports IPv4 clients as plain IPv4; write ${range} instead`;
  }
  return undefined;
}

function parseCidrText(value: string): Cidr | undefined {
  // Only IPv6 text contains ":", so one parser suffices. ipaddr's generic functions try IPv6
  // first, whose failure costs more than the IPv4 parse itself.
  const family = value.includes(':') ? ipaddr.IPv6 : ipaddr.IPv4;
  try {
    if (value.includes('/')) {
      return family.parseCIDR(value);
    }
    const address = family.parse(value);
    return [address, address.kind() === 'ipv4' ? 32 : 128];
  } catch {
    return undefined;
  }
}

/** Matches an absolute path whose segments are all non-empty and none is "." or "..". */
const NORMALIZED_ABSOLUTE_PATH = /^(?:\/(?!\.\.?(?:\/|$))[^/]+)+$/;

/**
 * Returns why `value` is not an absolute, normalized path without "..", or undefined when it
 * is one. The schema and its messages use this, so a policy path means one directory only.
 */
export function describePathProblem(value: string): string | undefined {
  // Most policy paths are already normalized, and this test avoids the allocations below.
  if (NORMALIZED_ABSOLUTE_PATH.test(value)) {
    return undefined;
  }
  if (!value.startsWith('/')) {
    return `path "${value}" is relative; write it as an absolute path`;
  }
  // A `..` segment would make the policy name one directory and borg enforce another.
  if (value.split('/').includes('..')) {
    return `path "${value}" contains "..": write the resolved path`;
  }
  const normalized = value.length > 1 ? posix.normalize(value).replace(/\/$/, '') : value;
  if (normalized !== value) {
    return `path "${value}" is not normalized; write "${normalized}"`;
  }
  return undefined;
}
