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

/** Characters checkGateCommand allows in a path on the forced command line. */
const SAFE_PATH = '/[A-Za-z0-9._/+@:,-]*';

/**
 * Returns a pattern that matches exactly the lines formatEntry writes for `gatePath`: the forced
 * command with a client id and optional --policy and --audit-log, `restrict`, optional `from`
 * and `expiry-time`, then a key. Any other option (`pty`, `port-forwarding`, a second command)
 * or any shell text in the command fails it.
 */
export function gateEntryPattern(gatePath: string): RegExp {
  const gate = gatePath.replace(/[.+]/g, (character) => `\\${character}`);
  const command = `${gate} serve --client [A-Za-z0-9][A-Za-z0-9._-]{0,63}(?: --policy ${SAFE_PATH})?(?: --audit-log ${SAFE_PATH})?`;
  const options = ',restrict(?:,from="[0-9A-Fa-f.:/,]+")?(?:,expiry-time="[0-9]{14}Z")?';
  return new RegExp(`^command="${command}"${options} [a-z0-9@.-]+ [A-Za-z0-9+/=]+(?: |$)`);
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
