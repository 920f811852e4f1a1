import type { AuthContext, ClientInfo, Connection, Session } from 'ssh2';
import { escapeUntrusted } from '../audit-log/escape.js';
import { fingerprintOf } from '../session/facts.js';
import { type ConnectionRecord, connectionKey, logFields, type ServerState } from './admission.js';
import { authenticate } from './auth.js';
import { dropConnection } from './drop.js';
import { handleSession } from './session.js';

/** Drives the authentication and sessions of a connection that admitSocket let in. */
export function handleConnection(client: Connection, info: ClientInfo, server: ServerState): void {
  const { log } = server;
  const record = server.connections.get(connectionKey(info.ip, info.port));
  if (record === undefined) {
    // Every socket goes through admitSocket first, so this is a bug, and failing closed is safe.
    log.error(
      { event: 'connection_unknown', client_ip: info.ip, client_port: info.port },
      'connection was not admitted',
    );
    dropConnection(client);
    return;
  }
  record.client = client;
  const fields = logFields(record);
  client.on('error', (error: Error) => {
    log.debug({ event: 'connection_error', ...fields, err: error }, 'connection error');
  });

  client.on('authentication', (ctx: AuthContext) => {
    authenticate(ctx, record.auth, server.keys)
      .then(() => {
        // Like sshd's MaxAuthTries: a client may not try an unlimited number of keys.
        if (
          record.auth.failures >= server.config.maxAuthTries &&
          record.auth.clientId === undefined
        ) {
          dropConnection(client);
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
    clearTimeout(record.authTimer);
    record.authenticated = true;
    server.limits.authenticated(record.clientIp);
    log.info(
      {
        event: 'connection_authenticated',
        ...fields,
        client_id: record.auth.clientId,
        key_fingerprint: fingerprintOf(record.auth.authenticatedKey!),
        username: escapeUntrusted(record.auth.username ?? '', 100),
      },
      'client authenticated',
    );
    acceptSessions(client, server, record);
  });
}

/** Accepts session channels up to the per-connection limit; rejects forwarding of any kind. */
function acceptSessions(client: Connection, server: ServerState, record: ConnectionRecord): void {
  const { log, config } = server;
  const ids = {
    connectionId: record.id,
    clientIp: record.clientIp,
    clientPort: record.clientPort,
    clientId: record.auth.clientId!,
    authenticatedKey: record.auth.authenticatedKey!,
  };
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

  // A key holder must not tie up connection slots with connections that run nothing.
  let idleTimer: NodeJS.Timeout | undefined;
  const startIdleTimer = () => {
    idleTimer = setTimeout(() => {
      refused('connection', 'no session within the authentication timeout');
      dropConnection(client);
    }, config.authTimeoutMs);
    idleTimer.unref();
  };
  startIdleTimer();
  client.on('close', () => clearTimeout(idleTimer));

  client.on('session', (accept: () => Session, reject: () => void) => {
    if (server.stopping() || sessions >= config.maxSessionsPerConnection) {
      reject();
      refused('session', server.stopping() ? 'shutting down' : 'too many sessions');
      return;
    }
    sessions += 1;
    clearTimeout(idleTimer);
    const session = accept();
    session.once('close', () => {
      sessions -= 1;
      if (sessions === 0) {
        startIdleTimer();
      }
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
