import { constants } from 'node:fs';
import { access, lstat, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { unifiedDiff } from '../../lib/authorized-keys/diff.js';
import { gateEntryPattern } from '../../lib/authorized-keys/entry.js';
import { AuthorizedKeysError } from '../../lib/authorized-keys/errors.js';
import { type InstallResult, installBlock, parseMode } from '../../lib/authorized-keys/install.js';
import { IndexBuilder } from '../../lib/authorized-keys/lookup-index.js';
import { extractBlock, type GateBlock } from '../../lib/authorized-keys/managed-block.js';
import { blockText, type RenderOptions, renderBlock } from '../../lib/authorized-keys/render.js';
import {
  fileHasContent,
  readCurrentFile,
  writeFileAtomic,
} from '../../lib/authorized-keys/safe-write.js';
import { loadPolicyClients } from '../../lib/policy/load.js';
import { warnAboutOutsideLines } from './outside-lines.js';
import { authorizedKeysFileOf, type KeysArgs, policyFileOf, renderOptionsOf } from './shared.js';

/** `keys render`: prints the managed block to stdout. */
export async function runRender(args: KeysArgs): Promise<number> {
  const file = policyFileOf(args);
  // No variable keeps the policy, so its cache bytes can go once the block is rendered.
  const rendered = renderBlock(await loadPolicyClients(file), file, renderOptionsOf(args));
  for (const chunk of rendered.chunks) {
    process.stdout.write(chunk);
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
  const entries = written.entryCount === 1 ? 'entry' : 'entries';
  const summary = `${written.entryCount} ${entries} from ${written.file}`;
  if (written.changed) {
    const backup =
      written.backupFile === undefined ? '' : `; previous file kept as ${written.backupFile}`;
    process.stderr.write(`borg-gate: wrote ${target} (${summary}${backup})\n`);
  } else {
    process.stderr.write(`borg-gate: ${target} is up to date (${summary})\n`);
  }
  const current = await readCurrentFile(target);
  warnAboutOutsideLines(current?.content ?? '', target, gateBlockOf(args));
  return 0;
}

/**
 * Renders the block, installs it, and writes the lookup index when `indexFile` is set. A
 * function of its own, so the rendered text is garbage before runWrite reads the file again.
 */
async function writeBlockAndIndex(
  args: KeysArgs & { owner?: string; mode?: string },
  target: string,
  indexFile: string | undefined,
): Promise<InstallResult & { entryCount: number; file: string }> {
  const file = policyFileOf(args);
  const options = renderOptionsOf(args);
  const index = indexFile === undefined ? undefined : new IndexBuilder();
  const { rendered, sourceSha256, sourceStamp } = await renderPolicy(file, options, index);
  const result = await installBlock(target, rendered.chunks, {
    blockName: args.block,
    owner: args.owner,
    mode: parseMode(args.mode),
  });
  if (indexFile !== undefined && index !== undefined) {
    // The hash of the bytes, as `keys lookup` computes it, even for text that is not UTF-8.
    await writeIfChanged(
      indexFile,
      () => index.pieces(sourceSha256, options, rendered.chunks, sourceStamp),
      index.byteLength(sourceSha256, options, sourceStamp),
    );
  }
  return { ...result, entryCount: rendered.entryCount, file };
}

/**
 * Loads the policy and renders its block. The policy's cache bytes are unreachable once this
 * returns, so they are not kept while the files are written.
 */
async function renderPolicy(file: string, options: RenderOptions, index?: IndexBuilder) {
  const policy = await loadPolicyClients(file);
  const rendered = renderBlock(policy, file, options, index);
  return { rendered, sourceSha256: policy.sourceSha256, sourceStamp: policy.sourceStamp };
}

/**
 * `keys check`: exits 1 and prints a unified diff when the installed block differs from what
 * `keys write` would install. Also exits 1 when the file mode is wrong or a key line is outside
 * the managed blocks. Silent on success, so cron mails only on drift.
 */
export async function runCheck(args: KeysArgs & { mode?: string }): Promise<number> {
  const target = authorizedKeysFileOf(args);
  const expectedMode = parseMode(args.mode);
  const policy = await loadPolicyClients(policyFileOf(args));
  const { file } = policy;
  const rendered = blockText(renderBlock(policy, file, renderOptionsOf(args)));
  const current = await readCurrentFile(target);
  const text = current?.content.toString('latin1') ?? '';
  const installed = extractBlock(text, args.block, target) ?? '';
  const diff = unifiedDiff(installed, rendered, `${target} (installed)`, `${file} (policy)`);
  let status = 0;
  if (diff !== '') {
    process.stdout.write(diff);
    process.stderr.write(
      `borg-gate: the managed block in ${target} differs from the policy; run "borg-gate keys write" to update it\n`,
    );
    status = 1;
  }
  // The policy does not control a key outside the managed blocks, and keys write keeps it.
  if (warnAboutOutsideLines(text, target, gateBlockOf(args)) > 0) {
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
  return status;
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
  await access(directory, constants.W_OK).catch((error: unknown) => {
    throw invalid(
      `directory ${directory} is not writable (${(error as Error).message})`,
      'run as root or pass another --index path',
    );
  });
}

/** Writes the lookup index (root-owned, 0644 so the AuthorizedKeysCommandUser can read it). */
async function writeIfChanged(
  file: string,
  content: () => Iterable<Buffer>,
  length: number,
): Promise<void> {
  if (await fileHasContent(file, content, length, 0o644)) {
    return;
  }
  await writeFileAtomic(file, content(), 0o644, {
    uid: process.getuid?.() ?? 0,
    gid: process.getgid?.() ?? 0,
  });
}
