import { escapeUntrusted } from '../../lib/audit-log/escape.js';
import { blobFingerprint } from '../../lib/authorized-keys/fingerprint.js';
import { findLinesOutsideBlocks, type GateBlock } from '../../lib/authorized-keys/managed-block.js';
import { parseAuthorizedKeys } from '../../lib/doctor/authorized-keys-lines.js';

/**
 * Warns on stderr about every key line outside the managed blocks, and with `gate` also in
 * other blocks without the gate's forced command, and returns their count.
 * The policy does not control such a key, and `keys write` never removes it. The warning names
 * the line number and fingerprint only, because the line itself may carry options or comments
 * that should not end up in a cron mail.
 */
export function warnAboutOutsideLines(
  text: string | Buffer,
  file: string,
  gate?: GateBlock,
  firstLine = 1,
): number {
  const lines = findLinesOutsideBlocks(text, gate, firstLine);
  for (const { line, text: lineText, block } of lines) {
    const key = describeKeyLine(lineText);
    const message =
      block === undefined
        ? `${key} is outside the borg-gate managed blocks, so the policy does not control it and "borg-gate keys write" never removes it; delete the line by hand, or add the key to the policy with "borg-gate keys add" and then delete the line`
        : `${key} is in block "${escapeUntrusted(block, 80)}" but is not an entry as this borg-gate (--gate-path) writes them, so no policy controls it; run "borg-gate keys write --block ${escapeUntrusted(block, 80)}" with that block's policy, or delete the line by hand`;
    process.stderr.write(`borg-gate: ${file}:${line}: ${message}\n`);
  }
  return lines.length;
}

function describeKeyLine(line: string): string {
  const key = parseAuthorizedKeys(line).keys[0];
  if (key === undefined) {
    return 'a line without a recognized key';
  }
  return `key ${key.keyType} ${blobFingerprint(Buffer.from(key.base64, 'base64'))}`;
}
