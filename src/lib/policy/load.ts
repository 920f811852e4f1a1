import { resolve } from 'node:path';
import { hasCurrentCache, readCachedPolicy, sourceDigest, writePolicyCache } from './cache.js';
import { findDuplicates, findGrantsOverGateFiles } from './cross-checks.js';
import { formatKeyPath, PolicyError } from './errors.js';
import { digestPolicyFile } from './policy-digest.js';
import { type Client, type Policy, policySchema } from './schema.js';
import { DEFAULT_POLICY_FILE, type PolicySource, readPolicySource } from './source.js';
import { parseYamlText, YamlTextError } from './yaml-text.js';

export { DEFAULT_POLICY_FILE } from './source.js';

export interface LoadedPolicy {
  file: string;
  policy: Policy;
  source: string;
  /** SHA-256 (hex) of the file's bytes as read, which a lookup index records. */
  sourceSha256: string;
  /** The file's stamp when those bytes were read, if it may be recorded (file-stamp.ts). */
  sourceStamp: string | undefined;
}

/**
 * Resolves the policy file from an explicit option, `BORG_GATE_POLICY`, or the default, as an
 * absolute path with `.` and `..` removed as text. Every admin command then reads the file
 * that `keys write` names in the forced command, even when a `..` follows a symlink.
 */
export function policyFileFrom(option: string | undefined, env = process.env): string {
  return resolve(option ?? env.BORG_GATE_POLICY ?? DEFAULT_POLICY_FILE);
}

/**
 * Reads, checks ownership of, parses and validates a policy file, then refreshes the cache that
 * `serve` reads when it is stale and this process owns the file. Throws PolicyError.
 */
export async function loadPolicy(file: string): Promise<LoadedPolicy> {
  const source = await readPolicySource(file, true);
  const text = source.bytes.toString('utf8');
  const policy = parsePolicy(file, text);
  const digest = sourceDigest(source.bytes);
  refreshCache(file, source, digest, policy);
  return { file, policy, source: text, sourceSha256: digest, sourceStamp: source.stamp };
}

/** A validated policy as admin commands that walk every client read it. */
export interface PolicyClients {
  file: string;
  settings: Omit<Policy, 'clients'>;
  clientCount: number;
  /** The clients in policy order. Iterate it again for a second pass. */
  clients: Iterable<Client>;
  sourceSha256: string;
  sourceStamp: string | undefined;
  /** Releases the cache file the clients are read from; call it once the clients are done. */
  close(): void;
}

/**
 * Reads a policy for a command that walks every client once, such as `keys render`. When the
 * cache was made from exactly these bytes (and validated by this build), the clients come from
 * it one at a time, without the YAML parse and without a model of the whole policy in memory.
 * The caller closes the result.
 * Otherwise it loads the policy as loadPolicy does, which also writes the cache.
 * Throws PolicyError.
 */
export async function loadPolicyClients(file: string): Promise<PolicyClients> {
  // The first pass hashes the file in chunks, so a cache hit never keeps the policy text in memory.
  const digest = digestPolicyFile(file, true);
  const cached = readCachedPolicy(file, digest);
  if (cached !== undefined) {
    return {
      file,
      sourceSha256: digest.sha256,
      sourceStamp: digest.stamp,
      settings: cached.settings,
      clientCount: cached.clientCount,
      clients: { [Symbol.iterator]: () => cached.clients() },
      close: () => cached.close(),
    };
  }
  return loadPolicyClientsFromText(file);
}

/** Loads the policy as loadPolicy does, for loadPolicyClients when the cache misses. */
async function loadPolicyClientsFromText(file: string): Promise<PolicyClients> {
  const source = await readPolicySource(file, true);
  const digest = sourceDigest(source.bytes);
  const read = { file, sourceSha256: digest, sourceStamp: source.stamp };
  const policy = parsePolicy(file, source.bytes.toString('utf8'));
  refreshCache(file, source, digest, policy);
  const { clients, ...settings } = policy;
  return { ...read, settings, clientCount: clients.length, clients, close: () => {} };
}

/**
 * Writes the cache for policy bytes this process has just validated and written itself, so the
 * next command and connection need no full parse. Errors are ignored, as in refreshCache.
 */
export function cacheWrittenPolicy(file: string, source: PolicySource, policy: Policy): void {
  refreshCache(file, source, sourceDigest(source.bytes), policy);
}

function refreshCache(file: string, source: PolicySource, digest: string, policy: Policy): void {
  try {
    if (!hasCurrentCache(file, source, digest)) {
      writePolicyCache(file, source, digest, policy);
    }
  } catch {
    // NOTE: a cache that cannot be written only costs `serve` a full parse per connection.
  }
}

/** Parses and validates policy text; `file` is used in error messages only. */
export function parsePolicy(file: string, source: string): Policy {
  const document = parseYamlDocument(file, source);
  const result = policySchema.safeParse(document ?? {});
  if (!result.success) {
    // A misspelt key (`key:` for `keys:`) also makes the real key missing; name the misspelling.
    const issues = result.error.issues;
    const first = issues.find((candidate) => candidate.code === 'unrecognized_keys') ?? issues[0]!;
    const issue = unionBranchIssue(first);
    throw new PolicyError(file, `${formatKeyPath(issue.path)}: ${describeIssue(issue)}`, {
      cause: result.error,
    });
  }
  const problem = findDuplicates(result.data) ?? findGrantsOverGateFiles(result.data, file);
  if (problem !== undefined) {
    throw new PolicyError(file, problem);
  }
  return result.data;
}

interface SchemaIssue {
  code: string;
  message: string;
  path: PropertyKey[];
  input?: unknown;
  errors?: SchemaIssue[][];
}

/**
 * Returns the issue of the union branch the value was meant for, with its full path. zod
 * words a failed union as "Invalid input", which hides, for example, a bad date inside a
 * `{key, expires}` entry. The branch whose first issue is not a wrong type is the one meant.
 */
function unionBranchIssue(issue: SchemaIssue): SchemaIssue {
  if (issue.code !== 'invalid_union' || issue.errors === undefined) {
    return issue;
  }
  const branch = issue.errors.find(
    (issues) => issues[0] !== undefined && issues[0].code !== 'invalid_type',
  );
  const inner = branch?.[0];
  if (inner === undefined) {
    return issue;
  }
  return unionBranchIssue({ ...inner, path: [...issue.path, ...inner.path] });
}

/** Words a zod issue the way the rest of borg-gate's errors read. */
function describeIssue(issue: { code: string; message: string }): string {
  if (issue.code !== 'invalid_type') {
    return issue.message;
  }
  // zod leaves the input out of its issues, so only the message distinguishes a missing key.
  const expected = issue.message.replace(/^Invalid input: /, '');
  if (expected.endsWith(', received undefined')) {
    return `missing (${expected.replace(/, received undefined$/, '')})`;
  }
  return `invalid (${expected})`;
}

/** Parses YAML text to plain values; errors name the line and column and show the text there. */
function parseYamlDocument(file: string, source: string): unknown {
  try {
    return parseYamlText(source, file);
  } catch (error) {
    if (error instanceof YamlTextError) {
      throw new PolicyError(file, `invalid YAML: ${error.message}`, { cause: error });
    }
    throw error;
  }
}
