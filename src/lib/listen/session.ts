import type { Logger } from 'pino';
import type { ServerChannel, Session } from 'ssh2';
import { runServe } from '../../commands/serve.js';
import { escapeUntrusted } from '../audit-log/escape.js';
import { channelIo } from './channel-io.js';
import type { ListenConfig } from './config.js';

/** Facts about an authenticated connection, and the server state its sessions use. */
export interface ConnectionContext {
  connectionId: string;
  clientIp: string;
  clientPort: number;
  clientId: string;
  /** `type base64` of the key whose signature verified. */
  authenticatedKey: string;
  config: ListenConfig;
  log: Logger;
  env: NodeJS.ProcessEnv;
  /** Sessions of the whole server that are still running, for a graceful shutdown. */
  running: Set<Promise<void>>;
}

/** Session requests that are rejected; only exec (and shell, refused by runServe) get a channel. */
const REJECTED_REQUESTS = [
  'pty',
  'env',
  'x11',
  'auth-agent',
  'signal',
  'subsystem',
  'sftp',
] as const;

/**
 * Wires one session channel. An exec request runs runServe with the command as sshd would pass
 * it in SSH_ORIGINAL_COMMAND; a shell request runs it without a command, which runServe refuses
 * as an interactive login. Everything else is rejected and logged.
 */
export function handleSession(session: Session, context: ConnectionContext): void {
  for (const request of REJECTED_REQUESTS) {
    session.on(request, (_accept: unknown, reject: (() => void) | undefined, info: unknown) => {
      reject?.();
      context.log.warn(
        {
          event: 'request_refused',
          connection_id: context.connectionId,
          client_id: context.clientId,
          request,
          detail: describeRequest(request, info),
        },
        'session request refused',
      );
    });
  }
  const start = (accept: () => ServerChannel | undefined, command: string | undefined) => {
    // ssh2 returns no channel for a second exec or shell on one session; the request is dropped.
    const channel = accept();
    if (channel !== undefined) {
      track(context, runChannel(channel, command, context));
    }
  };
  session.on(
    'exec',
    (accept: () => ServerChannel | undefined, _reject: unknown, info: { command: string }) =>
      start(accept, info.command),
  );
  session.on('shell', (accept: () => ServerChannel | undefined) => start(accept, undefined));
}

async function runChannel(
  channel: ServerChannel,
  command: string | undefined,
  context: ConnectionContext,
): Promise<void> {
  const { io, finish } = channelIo(channel, context.env);
  let code: number;
  try {
    code = await runServe(
      {
        clientId: context.clientId,
        policyFile: context.config.policyFile,
        fallbackAuditLog: context.config.fallbackAuditLog,
        facts: {
          clientIp: context.clientIp,
          clientPort: context.clientPort,
          command,
          authenticatedKey: context.authenticatedKey,
        },
      },
      io,
    );
  } catch (error) {
    // runServe records its own refusals; reaching here means even that failed.
    context.log.error(
      {
        event: 'session_failed',
        connection_id: context.connectionId,
        client_id: context.clientId,
        err: error,
      },
      'session failed',
    );
    code = 1;
  }
  await finish(code);
}

function track(context: ConnectionContext, session: Promise<void>): void {
  context.running.add(session);
  void session.finally(() => context.running.delete(session));
}

/** Field of each rejected request that carries the client's own text. */
const DETAIL_FIELDS: Partial<Record<string, string>> = {
  env: 'key',
  subsystem: 'name',
  pty: 'term',
};

/** Returns the client-chosen part of a rejected request, escaped for the log. */
function describeRequest(request: string, info: unknown): string | undefined {
  const field = DETAIL_FIELDS[request];
  if (field === undefined || info === null || typeof info !== 'object') {
    return undefined;
  }
  const detail = (info as Record<string, unknown>)[field];
  return typeof detail === 'string' ? escapeUntrusted(detail, 200) : undefined;
}
