import { readdirSync } from 'node:fs';
import type { Writable } from 'node:stream';
import { resolveBorgPath } from '../borg-path/resolve.js';
import { symlinkTarget } from '../policy/disk-checks.js';
import { type Grant, listGrants, matchGrant } from '../policy/match.js';
import { ProtocolError } from '../rpc/errors.js';
import { type Handshake, type OpenRequest, readHandshake } from '../rpc/handshake.js';
import { encodeNegotiateReply } from '../rpc/replies.js';
import {
  adoptEarlyBorg,
  discardEarlyBorg,
  type EarlyBorg,
  earlyBorgFits,
  gateReadsReplies,
  serveArgvFor,
  startBorg,
} from './borg-start.js';
import { waitForExit } from './child.js';
import { sessionEndReason } from './end-reason.js';
import { refuseOpen } from './open-refusal.js';
import {
  EXIT_REFUSED,
  type RefusalReason,
  refusalMessage,
  SessionEndUnrecorded,
  SessionRefused,
} from './refusals.js';
import { BORG_EXIT_GRACE_MS, relayToBorg } from './relay.js';
import { type GrantedSession, sessionFields } from './run.js';

/**
 * Runs a borg 1.x session: replies to `negotiate`, reads `open`, resolves the requested path with
 * borg's rules, picks the one policy grant for it, then starts `borg serve` restricted to that
 * grant, or adopts `early` when it runs that very command line, and passes `open` on. borg
 * enforces the restriction again, so a difference between the gate's path resolution and
 * borg's can only refuse, never widen access. An `early` borg that is not adopted is killed.
 */
export async function runProtocolAware(
  granted: GrantedSession,
  early?: EarlyBorg,
): Promise<number> {
  let adopted = false;
  try {
    return await runSession(granted, early, () => {
      adopted = true;
    });
  } finally {
    if (!adopted) await discardEarlyBorg(early);
  }
}

async function runSession(
  granted: GrantedSession,
  early: EarlyBorg | undefined,
  adopt: () => void,
): Promise<number> {
  const { session } = granted;
  const io = session.io;
  let handshake: Handshake;
  try {
    handshake = await readHandshake(io.stdin, {
      onNegotiate: (negotiate) => writeAll(io.stdout, encodeNegotiateReply(negotiate.msgid)),
    });
  } catch (error) {
    const reason = error instanceof ProtocolError ? error.reason : String(error);
    throw new SessionRefused('protocol-error', reason);
  }
  session.openMsgid = handshake.open.msgid;
  const home = io.env.HOME ?? '/';
  const resolved = resolveBorgPath(handshake.open.path, { baseDir: home, cwd: home });
  let match: GrantMatch;
  try {
    match = grantFor(granted, handshake.open, resolved);
  } catch (error) {
    if (!(error instanceof SessionRefused)) {
      throw error;
    }
    await discardEarlyBorg(early);
    await granted.audit.append({
      ...sessionFields(session),
      event: 'session_refused',
      decision: 'refuse',
      reason: `${error.reason}: ${error.detail}`,
      repository: error.reason === 'repository-not-permitted' ? undefined : resolved,
      duration_ms: Math.round(performance.now() - session.startedAt),
    });
    await refuseOpen(
      io.stdin,
      io.stdout,
      handshake.open.msgid,
      refusalMessage(error.reason, error.clientSuffix),
    );
    return EXIT_REFUSED;
  }
  return runBorgForGrant(granted, handshake, match, early, adopt);
}

/** The grant for a session's `open`, with the path the request resolved to. */
interface GrantMatch {
  grant: Grant;
  resolved: string;
}

function grantFor(
  granted: GrantedSession,
  open: OpenRequest,
  resolved: string | undefined,
): GrantMatch {
  const requested = open.path;
  const grant = resolved === undefined ? undefined : matchGrant(granted.client, resolved);
  if (grant === undefined || resolved === undefined) {
    throw new SessionRefused(
      'repository-not-permitted',
      `requested "${requested}" resolves to "${resolved ?? 'an unsupported ~user path'}"`,
      permittedNames(granted),
    );
  }
  checkOpenFlags(grant, open, granted.client.allow_check);
  const real = symlinkTarget(grant.path);
  // A grant path that became a symlink would let borg serve a directory the policy never named.
  if (real !== undefined) {
    throw refusal(
      'policy-unavailable',
      `grant ${grant.path} now resolves to ${real}; fix the policy`,
    );
  }
  return { grant, resolved };
}

/** Throws SessionRefused when the `open` flags ask for more than the grant's mode permits. */
function checkOpenFlags(grant: Grant, open: OpenRequest, allowCheck: boolean): void {
  if (grant.mode === 'read-only' && open.create) {
    throw refusal('read-only', `open with create=true for ${grant.path}`);
  }
  // An exclusive lock blocks every backup of the repository; read-only keys need it only for check.
  if (grant.mode === 'read-only' && open.exclusive && !allowCheck) {
    throw refusal('read-only-no-check', `exclusive open without allow_check for ${grant.path}`);
  }
  // An unlocked writer shares segment files with a running backup, and both corrupt the repository.
  if (grant.mode === 'append-only' && !open.lock) {
    throw refusal('lock-required', `open with lock=false for ${grant.path}`);
  }
  // The filter refuses every write of a read-only session, so `borg list --bypass-lock` may skip
  // the lock. borg check is the one exclusive open of a read-only key, and it rewrites the config.
  // NOTE: borg 1.2 rewrites the index file when it finds it behind the segments (after a crash
  // or mid-commit). Without the lock that can race a writer, as with a local `--bypass-lock`.
  if (grant.mode === 'read-only' && open.exclusive && !open.lock) {
    throw refusal('lock-required', `exclusive open with lock=false for ${grant.path}`);
  }
  // Read-write keys may send break_lock or destroy anyway, so lock=false gives them nothing new.
}

function refusal(reason: RefusalReason, detail: string): SessionRefused {
  return new SessionRefused(reason, detail);
}

/** Lists the repositories a refused client may use, only by the names the policy gives them. */
function permittedNames(granted: GrantedSession): string {
  const names = listGrants(granted.client)
    .map((grant) => grant.name)
    .filter((name): name is string => name !== undefined);
  return names.length === 0 ? '' : ` (permitted: ${names.join(', ')})`;
}

async function runBorgForGrant(
  granted: GrantedSession,
  handshake: Handshake,
  { grant, resolved }: GrantMatch,
  early: EarlyBorg | undefined,
  adopt: () => void,
): Promise<number> {
  const { session } = granted;
  const argv = serveArgvFor(granted, grant);
  // `repository` is the path borg opens. For a path grant, `restrictions` names the granted root.
  const restrictions = [
    `${grant.kind === 'path' ? '--restrict-to-path' : '--restrict-to-repository'} ${grant.path}`,
  ];
  await granted.audit.append({
    ...sessionFields(session),
    event: 'session_start',
    decision: 'allow',
    repository: resolved,
    restrictions,
    mode: grant.mode,
  });
  // Checked before borg gets `open`: the client's `open` may create the directory right after.
  const repositoryExisted = pathHoldsData(resolved);
  const direct = !gateReadsReplies(granted, grant, handshake.open.exclusive);
  const fits = early !== undefined && earlyBorgFits(early, argv, direct);
  if (!fits) await discardEarlyBorg(early);
  const child = fits ? adoptEarlyBorg(early) : startBorg(granted, argv, direct);
  adopt();
  // From here borg replies to the client's open.
  session.openMsgid = undefined;
  const stats = await relayToBorg({ granted, handshake, grant, child, repositoryExisted, direct });
  const result = await waitForExit(child, BORG_EXIT_GRACE_MS);
  // A protocol violation ends the session like a refusal, even though borg itself exits 0.
  const refused = stats.refusedMethod !== undefined || stats.protocolError !== undefined;
  const exitCode = refused ? EXIT_REFUSED : result.code;
  try {
    await granted.audit.append({
      ...sessionFields(session),
      event: 'session_end',
      decision: refused ? 'refuse' : 'allow',
      reason: sessionEndReason(stats, result),
      repository: resolved,
      restrictions,
      mode: grant.mode,
      exit_code: result.code,
      signal: result.signal ?? null,
      duration_ms: Math.round(performance.now() - session.startedAt),
      bytes_in: stats.bytesIn,
      ...(stats.bytesOut !== undefined && { bytes_out: stats.bytesOut }),
      rpc: stats.rpc,
    });
  } catch (error) {
    throw new SessionEndUnrecorded(exitCode, error);
  }
  return exitCode;
}

/**
 * Returns false for a missing path or an empty directory, where `borg init` creates a new
 * repository, and true for a file or a directory with entries. Admins often create the empty
 * directory first to set its owner and mode. The directory is read once, before borg starts.
 */
function pathHoldsData(path: string): boolean {
  try {
    return readdirSync(path).length > 0;
  } catch (error) {
    // Any other error (a file, no permission) counts as existing, so save_key stays refused.
    return (error as NodeJS.ErrnoException).code !== 'ENOENT';
  }
}

function writeAll(output: Writable, bytes: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    output.write(bytes, (error) => (error ? reject(error) : resolve()));
  });
}
