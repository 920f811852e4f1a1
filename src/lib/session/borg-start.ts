import onExit from 'signal-exit';
import { buildServeArgv, type ServeArgv } from '../borg-args/build.js';
import { type Grant, listGrants } from '../policy/match.js';
import { type BorgChild, childEnvironment, spawnBorg } from './child.js';
import type { GrantedSession } from './run.js';

/** Builds the `borg serve` command line for one grant of a borg 1.x session. */
export function serveArgvFor(granted: GrantedSession, grant: Grant): ServeArgv {
  return buildServeArgv({
    binary: granted.binary.path,
    borgMajor: 1,
    request: granted.request,
    mode: grant.mode,
    restrictToRepositories: grant.kind === 'repository' ? [grant.path] : [],
    restrictToPaths: grant.kind === 'path' ? [grant.path] : [],
    storageQuota: grant.storageQuota,
  });
}

/**
 * True when borg's replies must pass through the gate; otherwise borg writes them to the client
 * itself, which spares every reply a copy. A read-only `borg check` (the one exclusive open of a
 * read-only key) needs the gate to reply to its nonce calls mid-session, and with a storage quota
 * the audit log names the StorageQuotaExceeded reply that ends a backup.
 */
export function gateReadsReplies(
  granted: GrantedSession,
  grant: Grant,
  exclusiveOpen: boolean,
): boolean {
  if (grant.mode === 'read-only' && exclusiveOpen) return true;
  return grant.storageQuota !== undefined || granted.request.storageQuota !== undefined;
}

/** Starts `borg serve` for a session; with `direct`, borg writes its replies to the client. */
export function startBorg(
  granted: GrantedSession,
  argv: ServeArgv,
  direct: boolean,
  deferSignals = false,
): BorgChild {
  const io = granted.session.io;
  return spawnBorg(argv.file, argv.args, {
    env: childEnvironment(io.env),
    cwd: io.env.HOME ?? '/',
    stdio: direct ? 'requests' : 'pipe',
    streams: io,
    umask: Number.parseInt(granted.policy.borg.umask, 8),
    deferSignals,
  });
}

/** A `borg serve` started before the client's `open` arrived. It has had no input yet. */
export interface EarlyBorg {
  argv: ServeArgv;
  direct: boolean;
  child: BorgChild;
  /** Removes the hook that kills this borg when the gate ends first. */
  unhook: () => void;
}

/**
 * Starts `borg serve` for a client with a single grant while the gate still reads the handshake,
 * so Python's start-up overlaps the gate's work. borg gets no byte of input until the gate has
 * checked `open` and written `session_start`; a refused session kills it first.
 *
 * Returns undefined where the command line is not known before `open`. That is a client with
 * several grants, or a read-only key that may run `borg check`, because its open decides how
 * replies travel. It is also a grant whose command line cannot be built: the later check
 * reports that one.
 */
export function startBorgEarly(granted: GrantedSession): EarlyBorg | undefined {
  const grants = listGrants(granted.client);
  const grant = grants[0];
  if (grants.length !== 1 || grant === undefined) return undefined;
  if (grant.mode === 'read-only' && granted.client.allow_check) return undefined;
  let argv: ServeArgv;
  try {
    argv = serveArgvFor(granted, grant);
  } catch {
    return undefined;
  }
  const direct = !gateReadsReplies(granted, grant, false);
  const child = startBorg(granted, argv, direct, true);
  // Until a session adopts it, this borg dies with the gate: a signal the gate can catch, or its
  // exit, kills it, so it never reads the end of its input and reports that on the client's
  // stdout. A forwarded signal would instead end borg while the gate went on with the handshake.
  // NOTE: SIGKILL of the gate cannot be caught. borg 1.2.4 then prints "Got connection close
  // before repository was opened." on its stdout, which is the client's protocol stream.
  const unhook = onExit(() => child.process.kill('SIGKILL'));
  void child.exited.then(unhook);
  return { argv, direct, child, unhook };
}

/** Hands an early borg to its session: from now on the gate's signals are passed on to it. */
export function adoptEarlyBorg(early: EarlyBorg): BorgChild {
  early.unhook();
  early.child.forwardSignals();
  return early.child;
}

/** True when `early` runs exactly the command line and reply path the session needs. */
export function earlyBorgFits(early: EarlyBorg, argv: ServeArgv, direct: boolean): boolean {
  const same = early.argv.file === argv.file && early.argv.args.join('\0') === argv.args.join('\0');
  return same && early.direct === direct;
}

/**
 * Ends an early borg that will not serve the session. It has read nothing, so SIGKILL interrupts
 * no work and leaves no lock; unlike SIGTERM it also makes borg print nothing to the client.
 */
export async function discardEarlyBorg(early: EarlyBorg | undefined): Promise<void> {
  if (early === undefined) return;
  early.child.process.kill('SIGKILL');
  await early.child.exited;
}
