import ipaddr from 'ipaddr.js';
import { DEFAULT_AUDIT_LOG, DEFAULT_POLICY_FILE } from '../policy/policy-file.js';
import { CLIENT_ID_PATTERN, parseCidr } from '../policy/values.js';
import { AuthorizedKeysError } from './errors.js';
import type { GateCommand } from './gate-command.js';
import type { KeyRecord } from './key-records.js';

export { checkGateCommand, type GateCommand } from './gate-command.js';

/** Formats the authorized_keys line for an active key: options, key type, base64 and comment. */
export function formatEntry(record: KeyRecord, command: GateCommand): string {
  const { client, key } = record;
  // The schema checks ids already; a second check here keeps quotes and spaces out of command=.
  if (!CLIENT_ID_PATTERN.test(client.id)) {
    throw new AuthorizedKeysError(`client id ${JSON.stringify(client.id)} is not a valid id`);
  }
  const policyArgument =
    command.policyFile === DEFAULT_POLICY_FILE ? '' : ` --policy ${command.policyFile}`;
  const auditArgument =
    command.auditLog === undefined || command.auditLog === DEFAULT_AUDIT_LOG
      ? ''
      : ` --audit-log ${command.auditLog}`;
  const options = [
    `command="${command.gatePath} serve --client ${client.id}${policyArgument}${auditArgument}"`,
  ];
  // restrict turns off port, agent and X11 forwarding, PTY allocation and ~/.ssh/rc.
  options.push('restrict');
  if (client.from !== undefined) {
    options.push(`from="${client.from.map(formatSource).join(',')}"`);
  }
  if (record.expires !== undefined) {
    options.push(`expiry-time="${formatExpiryTime(record.expires)}"`);
  }
  const comment = key.comment === '' ? client.id : key.comment;
  return `${options.join(',')} ${key.type} ${key.base64} ${comment}`;
}

/**
 * Formats an address or CIDR range for `from=`. sshd (OpenSSH 9.2) treats a range with host bits set as
 * invalid and then matches nothing, so ranges are written with their network address.
 */
export function formatSource(source: string): string {
  const parsed = parseCidr(source);
  if (parsed === undefined) {
    throw new AuthorizedKeysError(
      `"from" entry ${JSON.stringify(source)} is not an address or range`,
    );
  }
  const [address, prefix] = parsed;
  const full = address.kind() === 'ipv4' ? 32 : 128;
  if (!source.includes('/') || prefix === full) {
    return address.toString();
  }
  const network =
    address.kind() === 'ipv4'
      ? ipaddr.IPv4.networkAddressFromCIDR(source)
      : ipaddr.IPv6.networkAddressFromCIDR(source);
  return `${network.toString()}/${prefix}`;
}

/** Formats a time as sshd's `expiry-time` wants it: YYYYMMDDHHMMSS in UTC, with a Z suffix. */
export function formatExpiryTime(time: Date): string {
  const iso = time.toISOString();
  return `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}Z`;
}
