import type { RpcSummary } from '../audit-log/record.js';
import type { Grant } from '../policy/match.js';
import type { Handshake } from '../rpc/handshake.js';
import { relaySession } from '../rpc/relay.js';
import { type BorgChild, waitForExit } from './child.js';
import type { GrantedSession } from './run.js';

/** How long borg may take to close the repository after its input ended. */
export const BORG_EXIT_GRACE_MS = 30_000;

export interface RelayStats {
  bytesIn: number;
  /** Absent when borg wrote its replies to the client itself. */
  bytesOut?: number;
  rpc: RpcSummary;
  /** The first RPC method the gate refused, if any. */
  refusedMethod?: string;
  /** Short reason when a protocol violation ended the session. */
  protocolError?: string;
  /** Audit text for a refusal or protocol error inside the session. */
  refusal?: string;
  /** The client's input ended inside a request. */
  truncated: boolean;
  /** The session stored objects with `put` and never committed them. */
  uncommittedWrites: boolean;
  /** Exception class of the first error reply from borg. */
  serverError?: string;
}

export interface RelayOptions {
  granted: GrantedSession;
  /**
   * True when the requested path was a file or a non-empty directory before borg started. An
   * `open` with create=true on it fails in borg, so the session must not count as creating a
   * repository.
   */
  repositoryExisted: boolean;
  handshake: Handshake;
  grant: Grant;
  child: BorgChild;
  /** borg writes its replies to the client itself (spawned with stdio 'requests'). */
  direct: boolean;
}

/**
 * Passes the client's `open` to borg, then relays the session through the RPC filter for the
 * grant's mode until borg's output ends. borg never receives `negotiate`: the gate replied to it.
 */
export async function relayToBorg(options: RelayOptions): Promise<RelayStats> {
  const { handshake, child, grant } = options;
  const io = options.granted.session.io;
  const childIn = child.process.stdin!;
  childIn.on('error', () => {
    // borg exited while the client was still sending; its exit code reports why.
  });
  childIn.write(handshake.openBytes);
  const stats = await relaySession({
    clientIn: io.stdin,
    clientOut: io.stdout,
    childIn,
    replies: options.direct
      ? {
          kind: 'direct',
          exited: child.exited,
          // borg 1.2 catches SIGTERM and exits with code 143, so the gate checks what it sent.
          stop: async () => {
            const exit = await waitForExit(child, BORG_EXIT_GRACE_MS);
            return exit.signal === undefined && exit.sentByGate === undefined;
          },
        }
      : { kind: 'relay', childOut: child.process.stdout! },
    mode: grant.mode,
    allowCheck: options.granted.client.allow_check,
    repositoryCreated: handshake.open.create && !options.repositoryExisted,
    afterOpen: true,
    pendingInput: handshake.rest,
  });
  const refusal =
    stats.protocolError !== undefined
      ? `protocol-error: ${stats.protocolError}`
      : stats.refusedMethod !== undefined
        ? `rpc-refused: ${stats.refusedMethod} (msgid ${stats.refusedMsgid})`
        : undefined;
  return {
    bytesIn: stats.bytesIn + handshake.negotiateBytes.length + handshake.openBytes.length,
    ...(stats.bytesOut !== undefined && { bytesOut: stats.bytesOut }),
    rpc: {
      puts: stats.puts,
      gets: stats.gets,
      deletes: stats.deletes,
      commit: stats.commit,
      refused_method: stats.refusedMethod ?? null,
    },
    refusedMethod: stats.refusedMethod,
    protocolError: stats.protocolError,
    refusal,
    truncated: stats.truncated,
    uncommittedWrites: stats.puts > 0 && !stats.commit,
    ...(stats.serverError !== undefined && { serverError: stats.serverError }),
  };
}
