import type { SessionContext } from '../../commands/serve.js';
import type { AuditLog } from '../audit-log/writer.js';
import { buildServeArgv } from '../borg-args/build.js';
import { type Grant, listGrants } from '../policy/match.js';
import type { Client, Policy } from '../policy/schema.js';
import type { ServeRequest } from '../ssh-command/types.js';
import type { BorgBinary } from './binary.js';
import { discardEarlyBorg, startBorgEarly } from './borg-start.js';
import { childEnvironment, spawnBorg } from './child.js';
import { fingerprintOf } from './facts.js';

export interface GrantedSession {
  session: SessionContext;
  policy: Policy;
  client: Client;
  binary: BorgBinary;
  request: ServeRequest;
  audit: AuditLog;
}

/** Runs borg for a client that passed every check, and returns borg's exit code. */
export async function runGrantedSession(granted: GrantedSession): Promise<number> {
  if (granted.binary.major === 2) {
    return runPassThrough(granted, listGrants(granted.client));
  }
  // Started before the relay module loads, so Python's start-up overlaps it and the handshake.
  const early = startBorgEarly(granted);
  let relayModule: typeof import('./protocol-aware.js');
  try {
    relayModule = await import('./protocol-aware.js');
  } catch (error) {
    await discardEarlyBorg(early);
    throw error;
  }
  return relayModule.runProtocolAware(granted, early);
}

/**
 * Runs `borg serve` restricted to all of the client's grants with stdio passed straight
 * through. Used for borg 2 servers, whose protocol the gate does not read.
 */
async function runPassThrough(granted: GrantedSession, grants: Grant[]): Promise<number> {
  const { session, client } = granted;
  const mode = client.mode;
  const argv = buildServeArgv({
    binary: granted.binary.path,
    borgMajor: granted.binary.major,
    request: granted.request,
    mode,
    restrictToRepositories: grants
      .filter((grant) => grant.kind === 'repository')
      .map((grant) => grant.path),
    restrictToPaths: grants.filter((grant) => grant.kind === 'path').map((grant) => grant.path),
    storageQuota: client.storage_quota,
  });
  await granted.audit.append({
    ...sessionFields(session),
    event: 'session_start',
    decision: 'allow',
    restrictions: grants.map((grant) => grant.path),
    mode,
  });
  const home = session.io.env.HOME ?? '/';
  const child = spawnBorg(argv.file, argv.args, {
    env: childEnvironment(session.io.env),
    cwd: home,
    stdio: 'inherit',
    streams: session.io,
    umask: Number.parseInt(granted.policy.borg.umask, 8),
  });
  const result = await child.exited;
  await granted.audit.append({
    ...sessionFields(session),
    event: 'session_end',
    decision: 'allow',
    mode,
    exit_code: result.code,
    signal: result.signal ?? null,
    duration_ms: Math.round(performance.now() - session.startedAt),
  });
  return result.code;
}

/** Fields every record of a session carries. */
export function sessionFields(session: SessionContext) {
  const key = session.facts.authenticatedKey;
  return {
    session_id: session.id,
    client_id: session.clientId,
    key_fingerprint: key ? fingerprintOf(key) : undefined,
    client_ip: session.facts.clientIp,
    client_port: session.facts.clientPort,
    command: session.facts.command ?? '',
  };
}
