import { basename, isAbsolute, resolve } from 'node:path';
import type { Policy } from '../policy/schema.js';
import { checkGateCommand, formatEntry, type GateCommand } from './entry.js';
import { AuthorizedKeysError } from './errors.js';
import { collectKeyRecords, type KeyRecord } from './key-records.js';
import type { IndexEntry } from './lookup-index.js';
import { formatBlock } from './managed-block.js';

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
  checkGateCommand(options);
  const records = collectKeyRecords(policy, options.now, policyFile);
  const entries: IndexEntry[] = [];
  for (const record of records) {
    if (record.status === 'active') {
      entries.push({ base64: record.key.base64, line: formatEntry(record, options) });
    }
  }
  const lines = entries.map((entry) => entry.line);
  const block = formatBlock(options.blockName, options.policyFile, lines);
  return { block, records, entries };
}

/**
 * Returns the path sshd should run: the script this process was started as, without resolving
 * symlinks, so a global npm install keeps its stable `bin` link (e.g. /usr/local/bin/borg-gate)
 * across upgrades. Throws when this process was not started as borg-gate (e.g. under a test runner).
 */
export function defaultGatePath(script = process.argv[1]): string {
  if (script === undefined || !/^borg-gate(\.js|\.mjs)?$/.test(basename(script))) {
    throw new AuthorizedKeysError(
      'cannot tell where the borg-gate executable is; pass --gate-path /absolute/path/to/borg-gate',
    );
  }
  return isAbsolute(script) ? script : resolve(script);
}
