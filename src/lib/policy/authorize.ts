import ipaddr from 'ipaddr.js';
import type { ConnectionFacts } from '../session/facts.js';
import { SessionRefused } from '../session/refusals.js';
import { keyIdentity } from './cross-checks.js';
import type { Client, Policy } from './schema.js';
import { parseCidr } from './values.js';

/**
 * Finds the client and checks `disabled`, `expires`, `from` and the authenticated key.
 * Runs on every connection, so removing or disabling a client revokes it at once even when
 * authorized_keys is stale. Throws SessionRefused.
 */
export function authorizeClient(
  policy: Policy,
  clientId: string,
  facts: ConnectionFacts,
  now: Date,
): Client {
  const client = policy.clients.find((candidate) => candidate.id === clientId);
  if (client === undefined) {
    throw new SessionRefused('unknown-client', `no client "${clientId}" in the policy`);
  }
  if (client.disabled) {
    throw new SessionRefused('client-disabled', 'client is disabled in the policy');
  }
  if (client.expires !== undefined && client.expires <= now) {
    throw new SessionRefused('client-expired', `client expired at ${client.expires.toISOString()}`);
  }
  checkSource(client, facts.clientIp);
  checkAuthenticatedKey(client, facts.authenticatedKey, now);
  return client;
}

function checkSource(client: Client, clientIp: string | undefined): void {
  if (client.from === undefined) {
    return;
  }
  // Without SSH_CONNECTION the source is unknown, and an unknown source cannot match a list.
  if (clientIp === undefined || !addressInRanges(clientIp, client.from)) {
    throw new SessionRefused(
      'source-not-permitted',
      `source ${clientIp ?? 'unknown'} is not in "from"`,
    );
  }
}

/** True when the address lies in one of the CIDR ranges; IPv4-mapped IPv6 counts as IPv4. */
export function addressInRanges(address: string, ranges: string[]): boolean {
  let parsed: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    parsed = ipaddr.process(address);
  } catch {
    return false;
  }
  return ranges.some((range) => {
    const cidr = parseCidr(range);
    return cidr !== undefined && cidr[0].kind() === parsed.kind() && parsed.match(cidr);
  });
}

/**
 * Blocks a key from another client's entry, e.g. an authorized_keys line edited by hand to
 * carry `--client` of a more privileged client, and enforces per-key expiry during rotation.
 */
function checkAuthenticatedKey(
  client: Client,
  authenticated: string | null | undefined,
  now: Date,
): void {
  if (authenticated === undefined) {
    return;
  }
  if (authenticated === null) {
    throw new SessionRefused(
      'key-unverified',
      'SSH_USER_AUTH is set but holds no readable publickey line',
    );
  }
  const entry = client.keys.find(
    (key) => keyIdentity(typeof key === 'string' ? key : key.key) === authenticated,
  );
  if (entry === undefined) {
    throw new SessionRefused('key-mismatch', 'the authenticated key is not listed for this client');
  }
  if (typeof entry !== 'string' && entry.expires !== undefined && entry.expires <= now) {
    throw new SessionRefused('key-expired', `key expired at ${entry.expires.toISOString()}`);
  }
}
