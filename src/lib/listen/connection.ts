import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { AuthContext, ClientInfo, Connection, Session } from 'ssh2';
import { escapeUntrusted } from '../audit-log/escape.js';
import { fingerprintOf } from '../session/facts.js';
import { type AuthState, authenticate } from './auth.js';
import type { ListenConfig } from './config.js';
import type { PolicyKeyIndex } from './key-index.js';
import type { ConnectionLimits } from './limits.js';
import { handleSession } from './session.js';
import { normalizeAddress } from './source.js';

/** State the server shares with every connection. */
export interface ServerState {
  config: ListenConfig;
  log: Logger;
  keys: PolicyKeyIndex;
  limits: ConnectionLimits;
  env: NodeJS.ProcessEnv;
  running: Set<Promise<void>>;
  /** Open connections and whether each has authenticated, so shutdown can end them. */
  connections: Map<Connection, { authenticated: () => boolean }>;
  stopping: () => boolean;
}

/** Admits or refuses a new TCP connection, then drives its authentication and sessions. */
export function handleConnection(client: Connection, info: ClientInfo, server: ServerState): void {
  const { log, limits } = server;
  const connectionId = randomUUID();
  const clientIp = normalizeAddress(info.ip);
  const fields = { connection_id: connectionId, client_ip: clientIp, client_port: info.port };
  client.on('error', (error: Error) => {
    log.debug({ event: 'connection_error', ...fields, err: error }, 'connection error');
  });
  const refusal = server.stopping() ? 'shutting-down' : limits.admit(clientIp, Date.now());
  if (refusal !== undefined) {
    log.warn({ event: 'connection_refused', ...fields, reason: refusal }, 'connection refused');
    client.end();
    return;
  }
  const state: AuthState = { failures: 0 };
  let authenticated = false;
  let timedOut = false;
  server.connections.set(client, { authenticated: () => authenticated });
  const timer = setTimeout(() => {
    timedOut = true;
    client.end();
  }, server.config.authTimeoutMs);
  timer.unref();

  client.on('authentication', (ctx: AuthContext) => {
    authenticate(ctx, state, server.keys)
      .then(() => {
        // Like sshd's MaxAuthTries: a client may not try an unlimited number of keys.
        if (state.failures >= server.config.maxAuthTries && state.clientId === undefined) {
          client.end();
        }
      })
      .catch((error: unknown) => {
        log.error(
          { event: 'auth_error', ...fields, err: error },
          'authentication failed with an error',
        );
        ctx.reject(['publickey']);
      });
  });

  client.on('ready', () => {
    clearTimeout(timer);
    authenticated = true;
    limits.authenticated(clientIp);
    log.info(
      {
        event: 'connection_authenticated',
        ...fields,
        client_id: state.clientId,
        key_fingerprint: fingerprintOf(state.authenticatedKey!),
        username: escapeUntrusted(state.username ?? '', 100),
      },
      'client authenticated',
    );
    acceptSessions(client, server, {
      connectionId,
      clientIp,
      clientPort: info.port,
      clientId: state.clientId!,
      authenticatedKey: state.authenticatedKey!,
    });
  });

  client.on('close', () => {
    clearTimeout(timer);
    server.connections.delete(client);
    limits.closed(clientIp, authenticated);
    if (authenticated) {
      log.info(
        { event: 'connection_closed', ...fields, client_id: state.clientId },
        'connection closed',
      );
      return;
    }
    let reason = 'no-auth';
    if (timedOut) {
      reason = 'auth-timeout';
    } else if (state.failures > 0) {
      reason = 'auth-failed';
    }
    const blocked = reason === 'no-auth' ? false : limits.recordFailure(clientIp, Date.now());
    log.warn(
      {
        event: 'connection_refused',
        ...fields,
        reason,
        auth_failures: state.failures,
        key_fingerprint: state.lastOfferedKey,
        source_blocked: blocked,
      },
      'connection closed without authentication',
    );
  });
}

/** Accepts session channels up to the per-connection limit; rejects forwarding of any kind. */
function acceptSessions(
  client: Connection,
  server: ServerState,
  ids: {
    connectionId: string;
    clientIp: string;
    clientPort: number;
    clientId: string;
    authenticatedKey: string;
  },
): void {
  const { log, config } = server;
  let sessions = 0;
  const refused = (request: string, detail?: string) =>
    log.warn(
      {
        event: 'request_refused',
        connection_id: ids.connectionId,
        client_id: ids.clientId,
        request,
        detail,
      },
      'request refused',
    );

  client.on('session', (accept: () => Session, reject: () => void) => {
    if (server.stopping() || sessions >= config.maxSessionsPerConnection) {
      reject();
      refused('session', server.stopping() ? 'shutting down' : 'too many sessions');
      return;
    }
    sessions += 1;
    const session = accept();
    session.once('close', () => {
      sessions -= 1;
    });
    handleSession(session, { ...ids, config, log, env: server.env, running: server.running });
  });
  client.on(
    'tcpip',
    (_accept: unknown, reject: () => void, info: { destIP: string; destPort: number }) => {
      reject();
      refused('direct-tcpip', escapeUntrusted(`${info.destIP}:${info.destPort}`, 200));
    },
  );
  client.on('openssh.streamlocal', (_accept: unknown, reject: () => void) => {
    reject();
    refused('direct-streamlocal');
  });
  client.on('request', (_accept: unknown, reject: (() => void) | undefined, name: string) => {
    reject?.();
    refused(escapeUntrusted(name, 100));
  });
}
