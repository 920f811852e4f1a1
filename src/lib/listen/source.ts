import ipaddr from 'ipaddr.js';

/**
 * Returns the address as sshd would report it: an IPv4-mapped IPv6 address (a dual-stack
 * listener's view of an IPv4 client) becomes plain IPv4.
 */
export function normalizeAddress(address: string): string {
  try {
    return ipaddr.process(address).toString();
  } catch {
    return address;
  }
}

/**
 * Returns the key under which per-source limits count a client. IPv6 clients are grouped by /64,
 * because one host usually owns a whole /64 and could otherwise switch addresses to evade limits.
 */
export function sourceKey(address: string): string {
  let parsed: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    parsed = ipaddr.process(address);
  } catch {
    return address;
  }
  if (parsed.kind() === 'ipv4') {
    return parsed.toString();
  }
  const parts = (parsed as ipaddr.IPv6).parts.slice(0, 4);
  return `${parts.map((part) => part.toString(16)).join(':')}::/64`;
}
