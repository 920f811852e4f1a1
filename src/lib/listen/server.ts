import { type AddressInfo, createServer, type Server } from 'node:net';
import type { Logger } from 'pino';
import ssh2, { type Algorithms } from 'ssh2';
import { disableSignalForwarding, signalBorgChildren } from '../session/child.js';
import {
  admitSocket,
  type ConnectionRecord,
  closeConnection,
  type ServerState,
} from './admission.js';
import type { ListenConfig } from './config.js';
import { handleConnection } from './connection.js';
import { ListenError } from './errors.js';
import { loadOrCreateHostKey } from './host-key.js';
import { PolicyKeyIndex } from './key-index.js';
import { ConnectionLimits } from './limits.js';

/** Time borg gets between SIGTERM and SIGKILL once the shutdown timeout has passed. */
const KILL_GRACE_MS = 5_000;

/** Algorithms offered to clients: ssh2's defaults without SHA-1 MACs. */
const ALGORITHMS: Algorithms = {
  cipher: [
    'aes128-gcm@openssh.com',
    'aes256-gcm@openssh.com',
    'chacha20-poly1305@openssh.com',
    'aes128-ctr',
    'aes256-ctr',
  ],
  hmac: [
    'hmac-sha2-256-etm@openssh.com',
    'hmac-sha2-512-etm@openssh.com',
    'hmac-sha2-256',
    'hmac-sha2-512',
  ],
};

export interface ListenServer {
  address: AddressInfo;
  hostKeyFingerprint: string;
  /** Stops accepting, lets sessions finish up to the shutdown timeout, then stops borg. */
  shutdown(reason: string): Promise<void>;
}

/** Starts the embedded SSH server; it accepts only borg serve requests, each decided by runServe. */
export async function startListenServer(config: ListenConfig, log: Logger): Promise<ListenServer> {
  const keys = new PolicyKeyIndex(config.policyFile, log);
  await keys.load();
  const hostKey = await loadOrCreateHostKey(config.hostKeyFile);
  // Signals stop the whole server here (see shutdown), not each borg child on its own.
  disableSignalForwarding();

  let stopping = false;
  const state: ServerState = {
    config,
    log,
    keys,
    limits: new ConnectionLimits(config),
    env: process.env,
    running: new Set(),
    connections: new Map(),
    stopping: () => stopping,
  };

  const ssh = new ssh2.Server(
    { hostKeys: [hostKey.privateKey], ident: 'borg-gate', algorithms: ALGORITHMS },
    (client, info) => handleConnection(client, info, state),
  );
  // borg-gate accepts TCP itself so limits and the login timer apply before any SSH data.
  const server = createServer((socket) =>
    admitSocket(socket, state, (admitted) => ssh.injectSocket(admitted)),
  );
  await listenOn(server, config);
  server.on('error', (error: Error) =>
    log.error({ event: 'server_error', err: error }, 'server error'),
  );

  const address = server.address() as AddressInfo;
  log.info(
    {
      event: 'listen_start',
      address: address.address,
      port: address.port,
      host_key_fingerprint: hostKey.fingerprint,
      host_key_created: hostKey.created,
      policy_file: config.policyFile,
      policy_keys: keys.size,
    },
    `listening on ${address.address} port ${address.port}, host key ${hostKey.fingerprint}`,
  );
  return {
    address,
    hostKeyFingerprint: hostKey.fingerprint,
    shutdown: async (reason) => {
      if (stopping) {
        return;
      }
      stopping = true;
      await stopServer(server, state, reason);
    },
  };
}

function listenOn(server: Server, config: ListenConfig): Promise<void> {
  return new Promise((resolve, reject) => {
    const fail = (error: NodeJS.ErrnoException) => {
      const where = `${config.address} port ${config.port}`;
      reject(
        new ListenError(
          `cannot listen on ${where} (${error.code ?? 'error'}): choose another --address or --port`,
          { cause: error },
        ),
      );
    };
    server.once('error', fail);
    server.listen(config.port, config.address, () => {
      server.off('error', fail);
      resolve();
    });
  });
}

async function stopServer(server: Server, state: ServerState, reason: string): Promise<void> {
  const { log, config } = state;
  log.info(
    { event: 'listen_stopping', reason, sessions: state.running.size },
    'stopping: no new connections',
  );
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  endConnections(state, (record) => !record.authenticated);
  const finished = await waitFor(Promise.allSettled(state.running), config.shutdownTimeoutMs);
  if (!finished) {
    const stopped = signalBorgChildren('SIGTERM');
    log.warn(
      { event: 'sessions_terminated', borg_processes: stopped },
      'shutdown timeout passed; sent SIGTERM to borg',
    );
    if (!(await waitFor(Promise.allSettled(state.running), KILL_GRACE_MS))) {
      signalBorgChildren('SIGKILL');
      log.warn({ event: 'sessions_killed' }, 'borg did not exit; sent SIGKILL');
      await waitFor(Promise.allSettled(state.running), KILL_GRACE_MS);
    }
  }
  endConnections(state, () => true);
  await waitFor(closed, KILL_GRACE_MS);
  log.info({ event: 'listen_stop', reason, sessions_left: state.running.size }, 'stopped');
}

function endConnections(state: ServerState, select: (record: ConnectionRecord) => boolean): void {
  for (const record of [...state.connections.values()]) {
    if (select(record)) {
      closeConnection(record);
    }
  }
}

/** Resolves true when `promise` settles within `ms`, false when the time runs out first. */
async function waitFor(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([promise.then(() => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
