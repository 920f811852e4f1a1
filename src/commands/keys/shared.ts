import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { AuthorizedKeysError } from '../../lib/authorized-keys/errors.js';
import { PublicKeyError } from '../../lib/authorized-keys/public-key.js';
import { defaultGatePath, type RenderOptions } from '../../lib/authorized-keys/render.js';
import { PolicyError } from '../../lib/policy/errors.js';
import { policyFileFrom } from '../../lib/policy/load.js';

export interface KeysArgs {
  policy?: string;
  'gate-path'?: string;
  block: string;
  file?: string;
}

/** Resolves the policy file to an absolute path, as the forced command must name it. */
export function policyFileOf(args: { policy?: string }): string {
  return resolve(policyFileFrom(args.policy));
}

export function renderOptionsOf(args: KeysArgs, now = new Date()): RenderOptions {
  return {
    gatePath: args['gate-path'] ?? defaultGatePath(),
    policyFile: policyFileOf(args),
    blockName: args.block,
    now,
  };
}

/** Resolves the authorized_keys file from `--file` or BORG_GATE_AUTHORIZED_KEYS. */
export function authorizedKeysFileOf(args: KeysArgs): string {
  const file = args.file ?? process.env.BORG_GATE_AUTHORIZED_KEYS;
  if (file === undefined || file === '') {
    throw new AuthorizedKeysError(
      'no authorized_keys file given; pass --file PATH or set BORG_GATE_AUTHORIZED_KEYS',
    );
  }
  return resolve(file);
}

/** Reads a public key from a file, or from stdin for "-". */
export async function readKeyText(source: string): Promise<string> {
  if (source !== '-') {
    try {
      return await readFile(source, 'utf8');
    } catch (error) {
      throw new AuthorizedKeysError(
        `--key ${JSON.stringify(source)} ${describeReadError(error)}; pass the path of a public key file (.pub), or - to read the key from stdin`,
        { cause: error },
      );
    }
  }
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) {
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Describes why a file could not be read, in words, for an error message. */
export function describeReadError(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') {
    return 'does not exist';
  }
  if (code === 'EISDIR') {
    return 'is a directory';
  }
  if (code === 'EACCES') {
    return 'is not readable (permission denied)';
  }
  return `cannot be read (${(error as Error).message})`;
}

/** Runs a handler, printing expected errors as one line on stderr with exit code 1. */
export async function reportErrors(handler: () => Promise<number>): Promise<void> {
  try {
    process.exitCode = await handler();
  } catch (error) {
    if (
      error instanceof AuthorizedKeysError ||
      error instanceof PublicKeyError ||
      error instanceof PolicyError
    ) {
      process.stderr.write(`borg-gate: ${error.message}\n`);
      process.exitCode = 1;
      return;
    }
    throw error;
  }
}

/** Parses a duration such as 7d, 12h, 30m or 2w into milliseconds. */
export function parseDuration(text: string): number {
  const match = /^(\d+)(s|m|h|d|w)$/.exec(text);
  if (match === null) {
    throw new AuthorizedKeysError(
      `duration ${JSON.stringify(text)} is invalid; write a number and a unit: 30m, 12h, 7d or 2w`,
    );
  }
  const unit = { s: 1, m: 60, h: 3600, d: 86_400, w: 604_800 }[
    match[2] as 's' | 'm' | 'h' | 'd' | 'w'
  ];
  const ms = Number(match[1]) * unit * 1000;
  // Beyond this the old keys would in effect never expire, and far beyond it Date fails.
  if (ms > MAX_DURATION_MS) {
    throw new AuthorizedKeysError(
      `duration ${JSON.stringify(text)} is over 10 years; an overlap is meant to be days or weeks, for example 7d or 2w`,
    );
  }
  return ms;
}

/** Maximum duration parseDuration accepts: 3,653 days, ten years with their leap days. */
const MAX_DURATION_MS = 3653 * 86_400_000;
