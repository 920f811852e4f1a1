import { decode } from '@msgpack/msgpack';
import { decodeRequest, isMsgid } from './decode.js';
import { ProtocolError } from './errors.js';
import { type FrameEvent, type FramePath, Framer, REQUEST_LIMITS } from './framer.js';
import { evaluate, isManifestId, type RuleContext, ruleFor, type SessionMode } from './policy.js';

/** Receiver of the filter's decisions. */
export interface FilterOutput {
  /** Bytes for `borg serve`; a message is complete only once all its bytes were forwarded. */
  forward(bytes: Buffer): void;
  /** Called once per allowed request, after its last byte was forwarded. */
  allowed(method: string, msgid: number): void;
  /** Called for a refused request; none of its bytes were forwarded. */
  refused(msgid: number, method: string, message: string): void;
  /** Called for a request the gate replies to itself with nil; nothing was forwarded. */
  answered(msgid: number, method: string): void;
}

// Every request except `put` is about 50 to 150 bytes plus a path or key blob, so the filter
// buffers up to this much and decides once the whole message is checked.
const MAX_HELD_BYTES = 64 * 1024;
const MAX_REFUSALS = 1000;
// NOTE: about 100 bytes per id, so up to roughly 100 MB for a backup that stores a million new
// chunks in one session (an estimate). Later puts are not tracked and deleting them is refused,
// except the archive objects below.
const MAX_TRACKED_PUTS = 1_000_000;
// One archive object per checkpoint, so a backup writing one every second for a day stays below.
const MAX_TRACKED_ARCHIVES = 100_000;

type Phase = 'hold' | 'stream' | 'drop';

/** State of the request being read. */
class Message {
  phase: Phase = 'hold';
  held: Buffer[] = [];
  heldBytes = 0;
  /** True if the head byte is 0x83, a fixmap with the three keys i, m and a. */
  isFixmap3: boolean | undefined;
  msgid: number | undefined;
  method: string | undefined;
  objectId: Uint8Array | undefined;
}

/**
 * Checks client-to-server requests after the handshake against the session's mode. Allowed
 * requests are forwarded byte for byte, refused ones are reported and never forwarded, and a
 * protocol violation throws ProtocolError. Before the throw, no complete message was forwarded
 * that the framer had not fully checked.
 */
export class RequestFilter {
  private readonly framer = new Framer(REQUEST_LIMITS);
  private message = new Message();
  private refusals = 0;
  private readonly puts = new Set<string>();
  /**
   * Objects put right before the manifest. borg 1.x stores an archive (a checkpoint too) just
   * before the manifest that lists it, and deletes each checkpoint archive at the next
   * checkpoint, so these stay deletable after `puts` is full.
   */
  private readonly archivePuts = new Set<string>();
  private lastPut: string | undefined;
  private readonly context: RuleContext;

  constructor(
    private readonly mode: SessionMode,
    allowCheck: boolean,
    private readonly output: FilterOutput,
    repositoryCreated = false,
    /** How many stored objects the filter remembers for `delete`; tests lower it. */
    private readonly maxTrackedPuts = MAX_TRACKED_PUTS,
  ) {
    this.context = {
      allowCheck,
      repositoryCreated,
      putInSession: (id) => {
        if (!(id instanceof Uint8Array)) return false;
        const key = latin1(id);
        return this.puts.has(key) || this.archivePuts.has(key);
      },
    };
  }

  /** True between requests. */
  get atBoundary(): boolean {
    return this.framer.atBoundary;
  }

  /** Checks one chunk of client input; throws ProtocolError on a violation. */
  push(chunk: Buffer): void {
    for (const event of this.framer.push(chunk)) this.handle(event);
  }

  private handle(event: FrameEvent): void {
    const message = this.message;
    switch (event.type) {
      case 'bytes':
        message.isFixmap3 ??= event.data[0] === 0x83;
        this.take(event.data);
        break;
      case 'bulk':
        if (message.phase === 'hold') this.decideBulk(event.path, event.length);
        break;
      case 'value':
        this.recordValue(event.path, event.token);
        break;
      case 'end':
        this.finish();
        this.message = new Message();
        break;
    }
  }

  private take(data: Buffer): void {
    const message = this.message;
    if (message.phase === 'stream') {
      this.output.forward(data);
    } else if (message.phase === 'hold') {
      message.held.push(data);
      message.heldBytes += data.length;
      if (message.heldBytes > MAX_HELD_BYTES) this.drop();
    }
  }

  /**
   * Starts streaming a bulk argument (a `put` payload) once nothing later in the message can
   * change the verdict. The head is a fixmap of three unique keys and i and m are already read,
   * so `a` is the last key. The rule for the method ignores arguments. A duplicate argument
   * later still throws before the message is complete, and borg never runs a partial message.
   */
  private decideBulk(path: FramePath, length: number): void {
    const message = this.message;
    const { msgid, method } = message;
    const lastKey = message.isFixmap3 === true && msgid !== undefined && path[0] === 'a';
    if (lastKey && method !== undefined && ruleFor(this.mode, method).action === 'forward') {
      message.phase = 'stream';
      for (const part of message.held) this.output.forward(part);
      message.held = [];
    } else if (message.heldBytes + length > MAX_HELD_BYTES) {
      this.drop();
    }
  }

  private drop(): void {
    this.message.phase = 'drop';
    this.message.held = [];
  }

  private recordValue(path: FramePath, token: Buffer | undefined): void {
    if (token === undefined) return;
    const key = path.join('.');
    if (key !== 'i' && key !== 'm' && key !== 'a.id') return;
    const value = decode(token, { rawStrings: true });
    if (key === 'i' && isMsgid(value)) this.message.msgid = value;
    if (key === 'm' && value instanceof Uint8Array) this.message.method = latin1(value);
    if (key === 'a.id' && value instanceof Uint8Array) this.message.objectId = value;
  }

  private finish(): void {
    const message = this.message;
    if (message.phase === 'hold') {
      this.finishHeld(Buffer.concat(message.held));
    } else if (message.phase === 'stream') {
      this.accept(message.msgid!, message.method!, message.objectId);
    } else {
      this.finishDropped();
    }
  }

  private finishHeld(bytes: Buffer): void {
    const request = decodeRequest(bytes);
    const verdict = evaluate(ruleFor(this.mode, request.method), request.args, this.context);
    if (verdict.action === 'refuse') {
      this.refuse(request.msgid, request.method, verdict.message);
      return;
    }
    if (verdict.action === 'answer-nil') {
      this.output.answered(request.msgid, request.method);
      return;
    }
    this.output.forward(bytes);
    const id = request.args.id;
    this.accept(request.msgid, request.method, id instanceof Uint8Array ? id : undefined);
  }

  /** Refuses an oversized request if its method is refused anyway; anything else is a violation. */
  private finishDropped(): void {
    const { msgid, method } = this.message;
    const rule = method === undefined ? undefined : ruleFor(this.mode, method);
    if (msgid === undefined || method === undefined || rule?.action !== 'refuse') {
      // Only `put` carries a payload past the buffer limit, and it was streamed or refused.
      throw new ProtocolError('oversized request');
    }
    this.refuse(msgid, method, rule.message);
  }

  private accept(msgid: number, method: string, objectId: Uint8Array | undefined): void {
    // Only append-only sessions ask which objects this session stored.
    if (this.mode === 'append-only' && method === 'put' && objectId !== undefined) {
      this.trackPut(latin1(objectId), isManifestId(objectId));
    }
    this.output.allowed(method, msgid);
  }

  private trackPut(id: string, isManifest: boolean): void {
    if (this.puts.size < this.maxTrackedPuts) this.puts.add(id);
    const full = this.archivePuts.size >= MAX_TRACKED_ARCHIVES;
    if (isManifest && this.lastPut !== undefined && !full) {
      this.archivePuts.add(this.lastPut);
    }
    this.lastPut = id;
  }

  private refuse(msgid: number, method: string, message: string): void {
    this.refusals += 1;
    // A client that ignores refusals gets no more from the gate than one that stops.
    if (this.refusals > MAX_REFUSALS) throw new ProtocolError('too many refused requests');
    this.output.refused(msgid, method, message);
  }
}

function latin1(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
}
