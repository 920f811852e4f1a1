import { randomUUID } from 'node:crypto';
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import type { Connection } from 'ssh2';
import type { AuthState } from './auth.js';
import type { ListenConfig } from './config.js';
import { dropConnection } from './drop.js';
import type { PolicyKeyIndex } from './key-index.js';
import type { ConnectionLimits } from './limits.js';
import { normalizeAddress } from './source.js';

/** One TCP connection, from accept to close. */
export interface ConnectionRecord {
  id: string;
  clientIp: string;
  clientPort: number;
  socket: Socket;
  /** Set once the client has sent its SSH identification and ssh2 has taken over. */
  client?: Connection;
  auth: AuthState;
  authenticated: boolean;
  timedOut: boolean;
  authTimer?: NodeJS.Timeout;
}

/** State the server shares with every connection. */
export interface ServerState {
  config: ListenConfig;
  log: Logger;
  keys: PolicyKeyIndex;
  limits: ConnectionLimits;
  env: NodeJS.ProcessEnv;
  running: Set<Promise<void>>;
  /** Open connections by `address|port`, as ssh2 reports them, for shutdown and lookup. */
  connections: Map<string, ConnectionRecord>;
  stopping: () => boolean;
}

/** Returns the key of a connection in ServerState.connections. */
export function connectionKey(address: string | undefined, port: number | undefined): string {
  return `${address ?? ''}|${port ?? 0}`;
}

/**
 * Admits or refuses a TCP connection before any SSH data is read, then hands it to ssh2. The
 * authentication timer starts here, so a client that never sends its identification is closed too.
 */
export function admitSocket(
  socket: Socket,
  server: ServerState,
  handOver: (socket: Socket) => void,
): void {
  const { log, limits } = server;
  socket.on('error', () => {
    // Resets and timeouts end in 'close', which is logged below.
  });
  const record: ConnectionRecord = {
    id: randomUUID(),
    clientIp: normalizeAddress(socket.remoteAddress ?? ''),
    clientPort: socket.remotePort ?? 0,
    socket,
    auth: { failures: 0 },
    authenticated: false,
    timedOut: false,
  };
  const refusal = server.stopping() ? 'shutting-down' : limits.admit(record.clientIp, Date.now());
  if (refusal !== undefined) {
    log.warn(
      { event: 'connection_refused', ...logFields(record), reason: refusal },
      'connection refused',
    );
    socket.destroy();
    return;
  }
  const key = connectionKey(socket.remoteAddress, socket.remotePort);
  server.connections.set(key, record);
  record.authTimer = setTimeout(() => {
    record.timedOut = true;
    closeConnection(record);
  }, server.config.authTimeoutMs);
  record.authTimer.unref();
  socket.once('close', () => {
    clearTimeout(record.authTimer);
    server.connections.delete(key);
    limits.closed(record.clientIp, record.authenticated);
    logClose(record, server);
  });
  handOver(socket);
}

/** Ends a connection: with an SSH disconnect once ssh2 has it, else by closing the socket. */
export function closeConnection(record: ConnectionRecord): void {
  if (record.client === undefined) {
    record.socket.destroy();
  } else {
    dropConnection(record.client);
  }
}

/** Fields that identify a connection in every log record. */
export function logFields(record: ConnectionRecord) {
  return { connection_id: record.id, client_ip: record.clientIp, client_port: record.clientPort };
}

function logClose(record: ConnectionRecord, server: ServerState): void {
  const { auth } = record;
  if (record.authenticated) {
    server.log.info(
      { event: 'connection_closed', ...logFields(record), client_id: auth.clientId },
      'connection closed',
    );
    return;
  }
  let reason = 'no-auth';
  if (record.timedOut) {
    reason = 'auth-timeout';
  } else if (auth.failures > 0) {
    reason = 'auth-failed';
  }
  // NOTE: a connection that closes without trying to log in (a port probe) is not counted, so
  // health checks cannot get their source blocked.
  const blocked =
    reason === 'no-auth' ? false : server.limits.recordFailure(record.clientIp, Date.now());
  server.log.warn(
    {
      event: 'connection_refused',
      ...logFields(record),
      reason,
      auth_failures: auth.failures,
      key_fingerprint: auth.lastOfferedKey,
      source_blocked: blocked,
    },
    'connection closed without authentication',
  );
}
