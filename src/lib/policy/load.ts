import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import { findDuplicates } from './cross-checks.js';
import { formatKeyPath, PolicyError } from './errors.js';
import { type Policy, policySchema } from './schema.js';

export const DEFAULT_POLICY_FILE = '/etc/borg-gate/policy.yaml';

/** Largest policy file accepted; 10,000 clients take about 2 MB. */
const MAX_POLICY_BYTES = 64 * 1024 * 1024;

export interface LoadedPolicy {
  file: string;
  policy: Policy;
  source: string;
}

/** Resolves the policy file from an explicit option, `BORG_GATE_POLICY`, or the default. */
export function policyFileFrom(option: string | undefined, env = process.env): string {
  return option ?? env.BORG_GATE_POLICY ?? DEFAULT_POLICY_FILE;
}

/** Reads, checks ownership of, parses and validates a policy file. Throws PolicyError. */
export async function loadPolicy(file: string): Promise<LoadedPolicy> {
  const source = await readPolicySource(file);
  const policy = parsePolicy(file, source);
  return { file, policy, source };
}

/** Parses and validates policy text; `file` is used in error messages only. */
export function parsePolicy(file: string, source: string): Policy {
  let document: unknown;
  try {
    // maxAliasCount blocks alias bombs; uniqueKeys rejects a key given twice.
    document = parseYaml(source, { maxAliasCount: 100, uniqueKeys: true, prettyErrors: true });
  } catch (error) {
    throw new PolicyError(file, `invalid YAML: ${(error as Error).message}`, { cause: error });
  }
  const result = policySchema.safeParse(document ?? {});
  if (!result.success) {
    const issue = result.error.issues[0]!;
    throw new PolicyError(file, `${formatKeyPath(issue.path)}: ${issue.message}`, {
      cause: result.error,
    });
  }
  const duplicate = findDuplicates(result.data);
  if (duplicate !== undefined) {
    throw new PolicyError(file, duplicate);
  }
  return result.data;
}

async function readPolicySource(file: string): Promise<string> {
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    // O_NOFOLLOW: a symlink planted in place of the policy could point at attacker-controlled text.
    handle = await open(file, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (error) {
    throw new PolicyError(file, describeOpenError(error), { cause: error });
  }
  try {
    const info = await handle.stat();
    checkOwnership(file, info);
    if (info.size > MAX_POLICY_BYTES) {
      throw new PolicyError(
        file,
        `file is ${info.size} bytes, above the ${MAX_POLICY_BYTES} byte limit`,
      );
    }
    return await handle.readFile('utf8');
  } finally {
    await handle.close();
  }
}

function checkOwnership(
  file: string,
  info: { uid: number; mode: number; isFile(): boolean },
): void {
  if (!info.isFile()) {
    throw new PolicyError(file, 'not a regular file');
  }
  const uid = process.getuid?.();
  // A policy another user can edit would let that user grant themselves access.
  if (info.uid !== 0 && info.uid !== uid) {
    throw new PolicyError(
      file,
      `owned by uid ${info.uid}; it must be owned by root or the user running borg-gate`,
    );
  }
  if ((info.mode & 0o022) !== 0) {
    const mode = (info.mode & 0o777).toString(8).padStart(4, '0');
    throw new PolicyError(
      file,
      `mode ${mode} lets group or others write it; run: chmod go-w ${file}`,
    );
  }
}

function describeOpenError(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') {
    return 'file not found; pass --policy FILE or set BORG_GATE_POLICY';
  }
  if (code === 'ELOOP') {
    return 'is a symbolic link; point --policy at the real file';
  }
  if (code === 'EACCES') {
    return 'permission denied; the user running borg-gate must be able to read it';
  }
  return `cannot open: ${(error as Error).message}`;
}
