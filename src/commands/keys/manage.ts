import Table from 'cli-table3';
import { addKey, removeKey, rotateKey } from '../../lib/authorized-keys/key-edits.js';
import { collectKeyRecords, type KeyRecord } from '../../lib/authorized-keys/key-records.js';
import { loadPolicy } from '../../lib/policy/load.js';
import { parseDuration, policyFileOf, readKeyText } from './shared.js';
import { escapeForTerminal } from './terminal.js';

/** `keys list`: one row per policy key. */
export async function runList(args: { policy?: string; json?: boolean }): Promise<number> {
  const { policy, file } = await loadPolicy(policyFileOf(args));
  const records = collectKeyRecords(policy, new Date(), file);
  if (args.json) {
    process.stdout.write(`${JSON.stringify(records.map(summarize), null, 2)}\n`);
    return 0;
  }
  const table = new Table({
    head: ['client', 'type', 'fingerprint', 'comment', 'expires', 'mode', 'status'],
    style: { head: [], border: [] },
  });
  for (const record of records) {
    const row = summarize(record);
    table.push([
      row.client_id,
      row.key_type,
      row.fingerprint,
      escapeForTerminal(shorten(row.comment)),
      row.expires ?? '',
      row.mode,
      row.status,
    ]);
  }
  const count = records.length;
  process.stdout.write(`${table.toString()}\n${count} ${count === 1 ? 'key' : 'keys'}\n`);
  return 0;
}

function summarize(record: KeyRecord) {
  return {
    client_id: record.client.id,
    key_type: record.key.type,
    fingerprint: record.key.fingerprint,
    comment: record.key.comment,
    expires: record.expires?.toISOString(),
    mode: record.client.mode,
    status: record.status,
  };
}

/** Widest comment the table shows; `--json` gives the whole comment. */
const COMMENT_COLUMN = 40;

/** Cuts `text` to COMMENT_COLUMN characters, so one long comment cannot widen every row. */
function shorten(text: string): string {
  const characters = Array.from(text);
  return characters.length <= COMMENT_COLUMN
    ? text
    : `${characters.slice(0, COMMENT_COLUMN - 1).join('')}…`;
}

/** `keys add`: adds a key from a file or stdin to a client. */
export async function runAdd(args: {
  policy?: string;
  client: string;
  key: string;
}): Promise<number> {
  const file = policyFileOf(args);
  const key = await addKey(file, args.client, await readKeyText(args.key), new Date());
  process.stderr.write(
    `borg-gate: added ${key.fingerprint} to client "${args.client}" in ${file}\n`,
  );
  printNextStep();
  return 0;
}

/** `keys remove`: removes one key of a client by fingerprint. */
export async function runRemove(args: {
  policy?: string;
  client: string;
  fingerprint: string;
}): Promise<number> {
  const file = policyFileOf(args);
  const key = await removeKey(file, args.client, args.fingerprint);
  process.stderr.write(
    `borg-gate: removed ${key.fingerprint} from client "${args.client}" in ${file}\n`,
  );
  printNextStep();
  return 0;
}

/** `keys rotate`: adds the new key and lets the old ones expire after the overlap. */
export async function runRotate(args: {
  policy?: string;
  client: string;
  key: string;
  overlap: string;
}): Promise<number> {
  const file = policyFileOf(args);
  const overlap = parseDuration(args.overlap);
  const result = await rotateKey(
    file,
    args.client,
    await readKeyText(args.key),
    overlap,
    new Date(),
  );
  const keys = (count: number, singular: string, plural: string) =>
    count === 1 ? `1 older key ${singular}` : `${count} older keys ${plural}`;
  const retiring = result.retiring.length;
  const earlier = result.expiringEarlier.length;
  const earlierNote =
    earlier === 0
      ? ''
      : `; ${keys(earlier, 'already expires earlier and keeps', 'already expire earlier and keep')} that time`;
  process.stderr.write(
    `borg-gate: added ${result.key.fingerprint} to client "${args.client}"; ${keys(retiring, 'now expires', 'now expire')} at ${result.expires.toISOString()}${earlierNote}\n`,
  );
  printNextStep();
  return 0;
}

function printNextStep(): void {
  process.stderr.write('borg-gate: run "borg-gate keys write" to update authorized_keys\n');
}
