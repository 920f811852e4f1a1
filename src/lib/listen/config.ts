/** Settings of one `borg-gate listen` server. Times are in milliseconds. */
export interface ListenConfig {
  address: string;
  /** TCP port; 0 lets the kernel choose one, which the start record then shows. */
  port: number;
  hostKeyFile: string;
  policyFile: string;
  /** Audit log for sessions refused because the policy cannot be loaded. */
  fallbackAuditLog: string;
  /** Open connections, authenticated or not, above which new ones are closed at once. */
  maxConnections: number;
  /**
   * Connections from one source that have not authenticated yet (sshd: PerSourceMaxStartups).
   * Clients behind one NAT address share it, so it is well above one host's needs.
   */
  maxUnauthenticatedPerSource: number;
  /**
   * Time a connection has to authenticate (sshd: LoginGraceTime), and then to open a session
   * whenever it has none. Dead peers are found by ssh2's keepalive (every 15 s, 3 misses).
   */
  authTimeoutMs: number;
  /** Authentication attempts on one connection before it is closed (sshd: MaxAuthTries). */
  maxAuthTries: number;
  /** Session channels one connection may open at a time (sshd: MaxSessions). */
  maxSessionsPerConnection: number;
  /** Failed logins a source may make in a burst before it is blocked. */
  authFailureBurst: number;
  /** Time after which a blocked source regains one failed login. */
  authFailureRefillMs: number;
  /** Time running sessions get to finish after SIGTERM before their borg is stopped. */
  shutdownTimeoutMs: number;
}

export const LISTEN_DEFAULTS = {
  address: '127.0.0.1',
  hostKeyFile: '/var/lib/borg-gate/listen_host_ed25519_key',
  maxConnections: 100,
  maxUnauthenticatedPerSource: 30,
  authTimeoutMs: 30_000,
  maxAuthTries: 6,
  maxSessionsPerConnection: 10,
  authFailureBurst: 10,
  authFailureRefillMs: 30_000,
  shutdownTimeoutMs: 60_000,
} as const;
