import { once } from 'node:events';
import { constants } from 'node:fs';
import { access, lstat, open, realpath, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { unifiedDiff } from '../../lib/authorized-keys/diff.js';
import { gateEntryPattern } from '../../lib/authorized-keys/entry.js';
import { AuthorizedKeysError } from '../../lib/authorized-keys/errors.js';
import {
  type InstallResult,
  installBlock,
  installLockPath,
  lookupUser,
  parseMode,
  removeLeftovers,
} from '../../lib/authorized-keys/install.js';
import {
  type BlockSource,
  INDEX_HEADER_PREFIX,
  IndexBuilder,
} from '../../lib/authorized-keys/lookup-index.js';
import {
  type BlockSplit,
  type GateBlock,
  splitAtBlock,
} from '../../lib/authorized-keys/managed-block.js';
import {
  blockText,
  checkKeys,
  type RenderOptions,
  renderBlock,
} from '../../lib/authorized-keys/render.js';
import {
  type CurrentFile,
  fileHasContent,
  readCurrentFile,
  writeFileAtomic,
} from '../../lib/authorized-keys/safe-write.js';
import { cacheFileFor } from '../../lib/policy/cache.js';
import { loadPolicyClients, type PolicyClients } from '../../lib/policy/load.js';
import { warnAboutOutsideLines } from './outside-lines.js';
import { authorizedKeysFileOf, type KeysArgs, policyFileOf, renderOptionsOf } from './shared.js';
import { escapeForTerminal } from './terminal.js';

/** `keys render`: prints the managed block to stdout. */
export async function runRender(args: KeysArgs): Promise<number> {
  const file = policyFileOf(args);
  const policy = await loadPolicyClients(file);
  let failure: NodeJS.ErrnoException | undefined;
  const noteFailure = (error: NodeJS.ErrnoException) => {
    failure ??= error;
  };
  process.stdout.on('error', noteFailure);
  try {
    const options = renderOptionsOf(args);
    const rendered = renderBlock(policy, file, options);
    // Output on stdout cannot be taken back, so a bad key must stop the command before it.
    checkKeys(policy, file, options.now);
    for (const piece of rendered.pieces) {
      // Waits while a slow reader leaves the pipe full, so pieces do not pile up in memory.
      if (failure === undefined && !process.stdout.write(piece)) {
        await once(process.stdout, 'drain').catch(() => undefined);
      }
      if (failure !== undefined) {
        break;
      }
    }
  } finally {
    process.stdout.off('error', noteFailure);
    policy.close();
  }
  // A reader that went away (`| head`) ends the output quietly, as in the audit commands.
  if (failure !== undefined && failure.code !== 'EPIPE') {
    throw new AuthorizedKeysError(`cannot write the block to stdout: ${failure.message}`, {
      cause: failure,
    });
  }
  return 0;
}

/** `keys write`: installs the managed block into the authorized_keys file. */
export async function runWrite(
  args: KeysArgs & { owner?: string; index?: string; mode?: string },
): Promise<number> {
  const target = authorizedKeysFileOf(args);
  const indexFile = args.index === undefined ? undefined : resolve(args.index);
  if (indexFile !== undefined) {
    // Checked first, so a bad --index leaves authorized_keys as it was.
    await checkIndexLocation(indexFile);
  }
  const written = await writeBlockAndIndex(args, target, indexFile);
  reportLeftovers(written.removedLeftovers);
  const entries = written.entryCount === 1 ? 'entry' : 'entries';
  const summary = `${written.entryCount} ${entries} from ${written.file}`;
  if (written.changed) {
    const backup =
      written.backupFile === undefined ? '' : `; previous file kept as ${written.backupFile}`;
    process.stderr.write(`borg-gate: wrote ${target} (${summary}${backup})\n`);
  } else {
    process.stderr.write(`borg-gate: ${target} is up to date (${summary})\n`);
  }
  // The lines outside the block are those installBlock kept, so the file is not read again.
  const { before, after } = written.outside;
  warnAroundBlock(args, target, Buffer.concat(before), after, written.lineCount);
  return 0;
}

/** Prints the temporary files of killed writes that keys write removed. */
function reportLeftovers(paths: string[]): void {
  for (const path of paths) {
    process.stderr.write(`borg-gate: removed ${path}, left by an earlier write that was killed\n`);
  }
}

/**
 * Warns about the key lines outside the managed blocks in the bytes `before` and `after` a
 * block of `blockLines` lines, numbered as lines of the file, and returns their count.
 */
function warnAroundBlock(
  args: KeysArgs,
  target: string,
  before: Buffer,
  after: Buffer,
  blockLines: number,
): number {
  const gate = gateBlockOf(args);
  const afterBlock = lineCount(before) + blockLines + 1;
  return (
    warnAboutOutsideLines(before, target, gate) +
    warnAboutOutsideLines(after, target, gate, afterBlock)
  );
}

/** Counts the newlines in `bytes`. */
function lineCount(bytes: Buffer): number {
  let count = 0;
  for (let at = bytes.indexOf(0x0a); at !== -1; at = bytes.indexOf(0x0a, at + 1)) {
    count += 1;
  }
  return count;
}

/**
 * Renders the block, installs it, and writes the lookup index when `indexFile` is set. The
 * block's pieces are written as they are rendered and then dropped. The index reads its
 * entries back from the new file, before that file replaces authorized_keys.
 */
async function writeBlockAndIndex(
  args: KeysArgs & { owner?: string; mode?: string },
  target: string,
  indexFile: string | undefined,
): Promise<InstallResult & { entryCount: number; lineCount: number; file: string }> {
  const file = policyFileOf(args);
  const options = renderOptionsOf(args);
  const index = indexFile === undefined ? undefined : new IndexBuilder();
  const policy = await loadPolicyClients(file);
  try {
    await rejectGatePaths(target, indexFile, file, policy.settings);
    const rendered = renderBlock(policy, file, options, index);
    const { sourceSha256, sourceStamp } = policy;
    // Written before authorized_keys is replaced, so a failed index leaves both as they were.
    const writeIndex = async (indexPath: string, builder: IndexBuilder, block: BlockSource) => {
      reportLeftovers(await removeLeftovers(indexPath));
      // The hash of the bytes, as `keys lookup` computes it, even for text that is not UTF-8.
      const written = await writeIfChanged(
        indexPath,
        () => builder.pieces(sourceSha256, options, block, sourceStamp),
        builder.byteLength(sourceSha256, options, sourceStamp),
      );
      process.stderr.write(
        written
          ? `borg-gate: wrote lookup index ${indexPath}\n`
          : `borg-gate: lookup index ${indexPath} is up to date\n`,
      );
    };
    const result = await installBlock(target, rendered.pieces, {
      blockName: args.block,
      owner: args.owner,
      mode: parseMode(args.mode),
      ...(indexFile !== undefined &&
        index !== undefined && {
          withNewBlock: (block: BlockSource) => writeIndex(indexFile, index, block),
        }),
      onLockWait: (lock) => {
        process.stderr.write(
          `borg-gate: waiting for ${lock}: another keys write of this file is running, or one was killed (its lock is taken over after 60 s)\n`,
        );
      },
    });
    return { ...result, entryCount: rendered.entryCount, lineCount: rendered.lineCount, file };
  } finally {
    policy.close();
  }
}

/**
 * Throws AuthorizedKeysError when `--file` names the policy, its cache, the audit log or a
 * rotated copy, the `--index` file or a lookup index, or when `--index` names the `.bak` copy or
 * the lock of `--file`. A typo there would overwrite that file or append a block to it.
 */
async function rejectGatePaths(
  target: string,
  indexFile: string | undefined,
  policyFile: string,
  settings: PolicyClients['settings'],
): Promise<void> {
  const gateFiles: [string, string | undefined][] = [
    ['the policy file', policyFile],
    ['the policy cache', cacheFileFor(settings.state_dir, policyFile)],
    ['the audit log', settings.audit_log],
    ['the --index file', indexFile],
  ];
  for (const [name, path] of gateFiles) {
    if (path !== undefined && (await sameFile(target, path))) {
      throw new AuthorizedKeysError(
        `--file ${JSON.stringify(target)} is ${name}; pass the authorized_keys path of the backup account`,
      );
    }
  }
  // A rotated copy of the audit log (audit.log.1) is as much the gate's as the log itself.
  const log = settings.audit_log;
  if (dirname(target) === dirname(log) && basename(target).startsWith(`${basename(log)}.`)) {
    throw new AuthorizedKeysError(
      `--file ${JSON.stringify(target)} is a rotated copy of the audit log; pass the authorized_keys path of the backup account`,
    );
  }
  // Written 0600 over an index, it would lock out the AuthorizedKeysCommandUser, so every key.
  const existing = await lstat(target).catch(() => undefined);
  if (existing?.isFile() && existing.size > 0 && (await isLookupIndex(target))) {
    throw new AuthorizedKeysError(
      `--file ${JSON.stringify(target)} is a borg-gate lookup index; pass the authorized_keys path of the backup account`,
    );
  }
  if (indexFile !== undefined && (await sameFile(indexFile, `${target}.bak`))) {
    throw new AuthorizedKeysError(
      `--index ${JSON.stringify(indexFile)} is the backup copy keys write keeps of ${target}; pass another --index path`,
    );
  }
  if (indexFile !== undefined && (await sameFile(indexFile, installLockPath(target)))) {
    throw new AuthorizedKeysError(
      `--index ${JSON.stringify(indexFile)} is the lock keys write takes for ${target}; pass another --index path`,
    );
  }
}

/**
 * True when both paths name one file: the same inode, or, when one does not exist yet, the
 * same name in the same directory with symbolic links resolved.
 */
async function sameFile(first: string, second: string): Promise<boolean> {
  if (resolve(first) === resolve(second)) {
    return true;
  }
  const [a, b] = await Promise.all(
    [stat(first), stat(second)].map((info) => info.catch(() => undefined)),
  );
  if (a !== undefined && b !== undefined) {
    return a.dev === b.dev && a.ino === b.ino;
  }
  const real = async (path: string) =>
    join(await realpath(dirname(path)).catch(() => dirname(path)), basename(path));
  return (await real(first)) === (await real(second));
}

/**
 * `keys check`: exits 1 and prints a unified diff when the installed block differs from what
 * `keys write` would install. Also exits 1 when the file mode (or, with --owner, the owner) is
 * wrong or a key line is outside the managed blocks. Silent on success, so cron mails only on
 * drift.
 */
export async function runCheck(
  args: KeysArgs & { mode?: string; owner?: string },
): Promise<number> {
  const target = authorizedKeysFileOf(args);
  const expectedMode = parseMode(args.mode);
  const file = policyFileOf(args);
  const options = renderOptionsOf(args);
  const policy = await loadPolicyClients(file);
  let current: CurrentFile | undefined;
  let split: BlockSplit;
  let same: boolean;
  try {
    current = await readCurrentFile(target);
    split = splitAtBlock(current?.content ?? Buffer.alloc(0), args.block, target);
    same = piecesEqual(renderBlock(policy, file, options).pieces, split.old);
  } finally {
    policy.close();
  }
  let status = 0;
  const before = Buffer.concat(split.before);
  const firstBlockLine = lineCount(before) + 1;
  if (!same) {
    // Rendered again as text only on drift, so a matching file never costs the whole block.
    const rendered = await renderText(file, options);
    const installed = split.old.toString('utf8');
    const names = [`${target} (installed)`, `${file} (policy)`] as const;
    const diff = unifiedDiff(installed, rendered, ...names, firstBlockLine);
    // The installed lines are the account's text; escape sequences could hide a line on root's terminal.
    process.stdout.write(shortenDiff(diff.split('\n').map(escapeForTerminal)).join('\n'));
    // Bytes that are not UTF-8, or a missing final newline, can differ with equal lines.
    const hidden =
      diff === ''
        ? ' only in bytes a line diff does not show (a final newline, or bytes that are not UTF-8)'
        : '';
    process.stderr.write(
      `borg-gate: the managed block in ${target} differs from the policy${hidden}; run "borg-gate keys write" to update it\n`,
    );
    status = 1;
  }
  // The policy does not control a key outside the managed blocks, and keys write keeps it.
  if (warnAroundBlock(args, target, before, split.after, lineCount(split.old)) > 0) {
    status = 1;
  }
  // A group- or world-writable file lets other users add keys; sshd's StrictModes also rejects it.
  if (current !== undefined && current.mode !== expectedMode) {
    const mode = current.mode.toString(8).padStart(4, '0');
    const expected = expectedMode.toString(8).padStart(4, '0');
    process.stderr.write(
      `borg-gate: ${target} has mode ${mode} instead of ${expected}; "borg-gate keys write" sets it\n`,
    );
    status = 1;
  }
  // A file the account owns again can be edited by it, whatever its mode is.
  if (current !== undefined && args.owner !== undefined) {
    const owner = await lookupUser(args.owner);
    if (current.owner.uid !== owner.uid || current.owner.gid !== owner.gid) {
      process.stderr.write(
        `borg-gate: ${target} is owned by uid ${current.owner.uid}:${current.owner.gid} instead of ${args.owner} (${owner.uid}:${owner.gid}); "borg-gate keys write --owner ${args.owner}" sets it\n`,
      );
      status = 1;
    }
  }
  return status;
}

/** Maximum number of diff lines keys check prints, so a cron mail stays readable. */
const MAX_DIFF_LINES = 2000;

/** Cuts a diff to MAX_DIFF_LINES lines, keeping both ends, with a line counting the rest. */
function shortenDiff(lines: string[]): string[] {
  // The last element is the empty text after the final newline.
  const total = lines.length - 1;
  if (total <= MAX_DIFF_LINES) {
    return lines;
  }
  // A rewritten block lists its old lines first and its new lines last, so both ends count.
  const half = MAX_DIFF_LINES / 2;
  const omitted = total - MAX_DIFF_LINES;
  return [
    ...lines.slice(0, half),
    `... ${omitted} lines of the diff are not shown here ...`,
    ...lines.slice(total - half),
  ];
}

/** Renders the policy's block as one string. */
async function renderText(file: string, options: RenderOptions): Promise<string> {
  const policy = await loadPolicyClients(file);
  try {
    return blockText(renderBlock(policy, file, options));
  } finally {
    policy.close();
  }
}

/** Returns true when `pieces`, read up to the first difference, are exactly `bytes`. */
function piecesEqual(pieces: Iterable<Buffer>, bytes: Buffer): boolean {
  let offset = 0;
  for (const piece of pieces) {
    const end = offset + piece.length;
    if (end > bytes.length || !piece.equals(bytes.subarray(offset, end))) {
      return false;
    }
    offset = end;
  }
  return offset === bytes.length;
}

/** This command's block and the shape of the entries it writes. */
function gateBlockOf(args: KeysArgs): GateBlock {
  return { block: args.block, entry: gateEntryPattern(renderOptionsOf(args).gatePath) };
}

/**
 * Throws AuthorizedKeysError unless the index can be written: its directory exists and is
 * writable, and the path itself is neither a directory nor a symbolic link.
 */
async function checkIndexLocation(file: string): Promise<void> {
  const directory = dirname(file);
  const invalid = (problem: string, fix: string) =>
    new AuthorizedKeysError(`--index ${JSON.stringify(file)}: ${problem}; ${fix}`);
  const parent = await stat(directory).catch(() => undefined);
  if (parent === undefined) {
    throw invalid(
      `directory ${directory} does not exist`,
      'create it or pass another --index path',
    );
  }
  if (!parent.isDirectory()) {
    throw invalid(`${directory} is not a directory`, 'pass another --index path');
  }
  const existing = await lstat(file).catch(() => undefined);
  if (existing?.isDirectory()) {
    throw invalid('the path is a directory', 'pass the path of a file in it');
  }
  // The index is written by rename, which never follows a symlink, so one here is refused.
  if (existing?.isSymbolicLink()) {
    throw invalid('the path is a symbolic link', 'pass the path of the real file');
  }
  // A device node or FIFO (/dev/null, say) would be replaced by a regular file.
  if (existing !== undefined && !existing.isFile()) {
    throw invalid('the path is not a regular file', 'pass the path of the index file');
  }
  // A typo must not replace the policy, the audit log or authorized_keys with an index.
  if (existing !== undefined && existing.size > 0 && !(await isLookupIndex(file))) {
    throw invalid(
      'the file exists and is not a borg-gate lookup index',
      'pass the path of the index, or remove the file if it may go',
    );
  }
  await access(directory, constants.W_OK).catch((error: unknown) => {
    throw invalid(
      `directory ${directory} is not writable (${(error as Error).message})`,
      'run as root or pass another --index path',
    );
  });
}

/** Returns true when `file` starts like a lookup index of any version. */
async function isLookupIndex(file: string): Promise<boolean> {
  const handle = await open(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  try {
    const head = Buffer.alloc(INDEX_HEADER_PREFIX.length);
    const { bytesRead } = await handle.read(head, 0, head.length, 0);
    return head.subarray(0, bytesRead).toString('latin1') === INDEX_HEADER_PREFIX;
  } finally {
    await handle.close();
  }
}

/**
 * Writes the lookup index (root-owned, 0644 so the AuthorizedKeysCommandUser can read it)
 * unless it is already right, and returns whether it wrote it.
 */
async function writeIfChanged(
  file: string,
  content: () => Iterable<Buffer>,
  length: number,
): Promise<boolean> {
  const owner = { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 };
  // An index of another owner is rewritten: keys lookup refuses it, and sshd then lets no key in.
  if (await fileHasContent(file, content, length, 0o644, owner)) {
    return false;
  }
  await writeFileAtomic(file, content(), 0o644, owner);
  return true;
}
