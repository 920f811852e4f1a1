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
  /** The block's text in UTF-8, markers and final newline included, in pieces of about 1 MiB. */
  chunks: Buffer[];
  /** Number of entry lines in the block. */
  entryCount: number;
}

/** Size at which renderBlock turns the lines gathered so far into one piece of UTF-8. */
const PIECE_CHARS = 1024 * 1024;

/** The parts of a policy that rendering reads: its audit log and its clients in order. */
export interface RenderSource {
  settings: Pick<Policy, 'audit_log'>;
  clients: Iterable<Client>;
}

/**
 * Renders the managed block for every active key in the policy, and adds each entry to `index`
 * if given. The text is kept as UTF-8 pieces, because 100,000 separate line strings plus their
 * joined copy took far more memory than the bytes themselves.
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
  const chunks: Buffer[] = [];
  let pending = `${start.join('\n')}\n`;
  let pendingBytes = Buffer.byteLength(pending, 'utf8');
  let entryCount = 0;
  for (const record of eachKeyRecord(policy.clients, options.now, policyFile)) {
    if (record.status !== 'active') {
      continue;
    }
    const line = formatEntry(record, command);
    const lineBytes = Buffer.byteLength(line, 'utf8');
    index?.add(record.key.base64, chunks.length, pendingBytes, pendingBytes + lineBytes);
    pending += `${line}\n`;
    pendingBytes += lineBytes + 1;
    entryCount += 1;
    if (pending.length >= PIECE_CHARS) {
      chunks.push(Buffer.from(pending, 'utf8'));
      pending = '';
      pendingBytes = 0;
    }
  }
  chunks.push(Buffer.from(`${pending}${blockEnd(options.blockName)}\n`, 'utf8'));
  return { chunks, entryCount };
}

/** Returns the text of a rendered block as one string. */
export function blockText(rendered: RenderedBlock): string {
  return Buffer.concat(rendered.chunks).toString('utf8');
}
