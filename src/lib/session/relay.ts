import { Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { RpcSummary } from '../audit-log/record.js';
import type { Grant } from '../policy/match.js';
import type { Handshake } from '../rpc/handshake.js';
import { createNegotiateReplyFilter } from '../rpc/swallow.js';
import type { BorgChild } from './child.js';
import type { GrantedSession } from './run.js';

export interface RelayStats {
  bytesIn: number;
  bytesOut: number;
  rpc?: RpcSummary;
  /** The first RPC method the gate refused, if any. */
  refusedMethod?: string;
  /** Audit text for a refusal or protocol error inside the session. */
  refusal?: string;
}

export interface RelayOptions {
  granted: GrantedSession;
  handshake: Handshake;
  grant: Grant;
  child: BorgChild;
}

/** Replays the handshake to borg, then carries bytes both ways until borg's output ends. */
export async function relayToBorg(options: RelayOptions): Promise<RelayStats> {
  const { handshake, child } = options;
  const io = options.granted.session.io;
  const stdin = child.process.stdin!;
  const stdout = child.process.stdout!;
  stdin.on('error', () => {
    // borg exited while the client was still sending; its exit code tells the story.
  });
  stdin.write(Buffer.concat([handshake.negotiateBytes, handshake.openBytes, handshake.rest]));
  const bytesIn = new ByteCounter();
  const bytesOut = new ByteCounter();
  const upstream = pipeline(io.stdin, bytesIn, stdin).catch(() => undefined);
  await pipeline(stdout, createNegotiateReplyFilter(), bytesOut, io.stdout, { end: false }).catch(() => undefined);
  void upstream;
  return { bytesIn: bytesIn.total, bytesOut: bytesOut.total };
}

/** Counts the bytes that pass through. */
class ByteCounter extends Transform {
  total = 0;

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.total += chunk.length;
    callback(null, chunk);
  }
}
