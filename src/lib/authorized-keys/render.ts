import type { Client, Policy } from '../policy/schema.js';
import { formatEntry } from './entry.js';
import { checkGateCommand, type GateCommand } from './gate-command.js';
import { eachKeyRecord } from './key-records.js';
import type { IndexBuilder } from './lookup-index.js';
import { blockEnd, blockStart } from './managed-block.js';

export { defaultGatePath } from './gate-command.js';

export interface RenderOptions extends GateCommand {
  blockName: string;
  now: Date;
}

export interface RenderedBlock {
  /**
   * The block's text in UTF-8, markers and final newline included, in pieces of about 64 KiB.
   * The entries are rendered as the pieces are read, so this can be iterated only once.
   */
  pieces: Iterable<Buffer>;
  /** Number of entry lines in the block, complete once `pieces` has been read to the end. */
  readonly entryCount: number;
  /** Number of lines in the block, markers included, complete as entryCount is. */
  readonly lineCount: number;
}

/** Size of the pieces renderBlock yields, unless one line is longer. */
const PIECE_BYTES = 64 * 1024;

/**
 * The parts of a policy that rendering reads: its audit log and its clients in order. The
 * clients must come from a policy that passed parsePolicy (see eachKeyRecord).
 */
export interface RenderSource {
  settings: Pick<Policy, 'audit_log'>;
  clients: Iterable<Client>;
}

/**
 * Renders the managed block for every active key in the policy, and adds each entry to `index`
 * if given, with its place in the block. The options are checked at once; the
 * entries only as the pieces are read, so the caller can write each piece out and drop it.
 * Throws AuthorizedKeysError, from the iteration, for a key that cannot be used.
 */
export function renderBlock(
  policy: RenderSource,
  policyFile: string,
  options: RenderOptions,
  index?: IndexBuilder,
): RenderedBlock {
  const command = { ...options, auditLog: policy.settings.audit_log };
  checkGateCommand(command);
  // Checked before any entry is formatted, so an invalid block name fails at once.
  const start = blockStart(options.blockName, options.policyFile);
  const end = blockEnd(options.blockName);
  let entryCount = 0;
  function* pieces(): Generator<Buffer> {
    // Each line is written into the piece's bytes at once, so no line string outlives its
    // formatting. Lines gathered as strings survived every collection of V8's young
    // generation until their piece was full, and V8 then grew that generation.
    let piece = Buffer.allocUnsafe(PIECE_BYTES);
    let used = 0;
    /** Bytes of the pieces yielded so far. */
    let done = 0;
    /** Returns the block offset `text` goes to, after yielding the full piece when it does not fit. */
    function* place(text: string): Generator<Buffer, number> {
      const bytes = Buffer.byteLength(text, 'utf8');
      if (used + bytes > piece.length) {
        yield piece.subarray(0, used);
        done += used;
        piece = Buffer.allocUnsafe(Math.max(PIECE_BYTES, bytes));
        used = 0;
      }
      const at = done + used;
      used += piece.write(text, used, 'utf8');
      return at;
    }
    yield* place(`${start.join('\n')}\n`);
    const records = eachKeyRecord(policy.clients, options.now, policyFile, 'client');
    for (const record of records) {
      if (record.status !== 'active') {
        continue;
      }
      const line = `${formatEntry(record, command)}\n`;
      const at = yield* place(line);
      // The entry ends before its newline, which is one byte in UTF-8.
      index?.add(record.key.base64, at, done + used - 1);
      entryCount += 1;
    }
    yield* place(`${end}\n`);
    yield piece.subarray(0, used);
  }
  return {
    pieces: pieces(),
    get entryCount() {
      return entryCount;
    },
    get lineCount() {
      return start.length + entryCount + 1;
    },
  };
}

/**
 * Parses every key of the policy as renderBlock does, without formatting anything, and throws
 * the error renderBlock would throw. Lets a caller that cannot take back what it has written
 * refuse before the first piece.
 */
export function checkKeys(policy: RenderSource, policyFile: string, now: Date): void {
  for (const _record of eachKeyRecord(policy.clients, now, policyFile, 'client')) {
    // Parsing is the check.
  }
}

/** Reads a rendered block to the end and returns its text as one string. */
export function blockText(rendered: RenderedBlock): string {
  return Buffer.concat(Array.from(rendered.pieces)).toString('utf8');
}
