import type { Policy } from '../policy/schema.js';
import { formatEntry } from './entry.js';
import { checkGateCommand, type GateCommand } from './gate-command.js';
import { collectKeyRecords, type KeyRecord } from './key-records.js';
import type { IndexEntry } from './lookup-index.js';
import { formatBlock } from './managed-block.js';

export { defaultGatePath } from './gate-command.js';

export interface RenderOptions extends GateCommand {
  blockName: string;
  now: Date;
}

export interface RenderedBlock {
  block: string;
  records: KeyRecord[];
  /** Every line of the block that is an entry, with the base64 key it is for. */
  entries: IndexEntry[];
}

/** Renders the managed block for every active key in the policy. */
export function renderBlock(
  policy: Policy,
  policyFile: string,
  options: RenderOptions,
): RenderedBlock {
  const command = { ...options, auditLog: policy.audit_log };
  checkGateCommand(command);
  const records = collectKeyRecords(policy, options.now, policyFile);
  const entries: IndexEntry[] = [];
  for (const record of records) {
    if (record.status === 'active') {
      entries.push({ base64: record.key.base64, line: formatEntry(record, command) });
    }
  }
  const lines = entries.map((entry) => entry.line);
  const block = formatBlock(options.blockName, options.policyFile, lines);
  return { block, records, entries };
}
