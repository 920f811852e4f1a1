import { escapeUntrusted } from '../audit-log/escape.js';
import type { ServeRequest } from '../ssh-command/types.js';
import {
  checkAbsolutePath,
  checkRequest,
  checkRestrictions,
  checkVersionAndMode,
} from './build-checks.js';
import { ServeArgvError } from './errors.js';
import { effectiveStorageQuota } from './quota.js';
import { isStorageQuota } from './size.js';

export type ServeMode = 'append-only' | 'read-write' | 'read-only';

export interface ServeArgvOptions {
  /** Absolute path of the borg executable the gate runs. */
  binary: string;
  borgMajor: 1 | 2;
  request: ServeRequest;
  mode: ServeMode;
  restrictToRepositories: readonly string[];
  restrictToPaths: readonly string[];
  /** Policy quota in borg size syntax; caps the client's. */
  storageQuota?: string | undefined;
}

/** A program and its arguments for spawn/execFile; `args` does not repeat the program. */
export interface ServeArgv {
  file: string;
  args: string[];
}

/** borg 2 `serve --permissions` value for each policy mode. */
const BORG2_PERMISSIONS: Record<ServeMode, string> = {
  'read-only': 'read-only',
  'append-only': 'no-delete',
  'read-write': 'all',
};

/**
 * Builds the `borg serve` command line for a granted request. Only the log level and debug
 * topics come from the client. Restrictions, mode and quota come from the policy, and the
 * client's umask, lock wait and log format are dropped; borg 1.x always logs JSON lines, the
 * format its `negotiate` would pick. Values use the `--flag=value` form,
 * so none can be read as an option. Throws ServeArgvError for unsafe options.
 */
export function buildServeArgv(options: ServeArgvOptions): ServeArgv {
  checkAbsolutePath(options.binary, 'borg binary');
  checkVersionAndMode(options.borgMajor, options.mode);
  checkRestrictions(options.restrictToRepositories, options.restrictToPaths);
  checkRequest(options.request);
  const args = [
    'serve',
    ...loggingArgs(options.request, options.borgMajor),
    ...options.restrictToRepositories.map((path) => `--restrict-to-repository=${path}`),
    ...options.restrictToPaths.map((path) => `--restrict-to-path=${path}`),
    ...modeArgs(options.borgMajor, options.mode),
    ...quotaArgs(options),
  ];
  return { file: options.binary, args };
}

function loggingArgs(request: ServeRequest, borgMajor: 1 | 2): string[] {
  const args = request.logLevel === undefined ? [] : [`--${request.logLevel}`];
  // The gate replies to a borg 1.x client's `negotiate` itself and never passes it on. That call
  // is what switches borg 1.x serve to JSON log lines, so the flag sets that format instead.
  if (borgMajor === 1) args.push('--log-json');
  return args.concat(request.debugTopics.map((topic) => `--debug-topic=${topic}`));
}

function modeArgs(borgMajor: 1 | 2, mode: ServeMode): string[] {
  if (borgMajor === 2) {
    // NOTE: borg 2 (remote.py in the 2.0 betas) applies --permissions only to borg 2
    // repositories, so a borg 1.x repository served by borg 2 gets no permission check.
    return [`--permissions=${BORG2_PERMISSIONS[mode]}`];
  }
  switch (mode) {
    case 'append-only':
      return ['--append-only'];
    case 'read-only':
      // borg 1.x serve has no read-only mode, so the RPC filter enforces it.
      // --append-only keeps existing data if the filter fails.
      return ['--append-only'];
    case 'read-write':
      return [];
  }
}

function quotaArgs(options: ServeArgvOptions): string[] {
  const quota = pickQuota(options.storageQuota, options.request.storageQuota);
  if (quota === undefined) {
    return [];
  }
  if (options.borgMajor === 2) {
    // Dropping a quota the client asked for itself is safe, because it only limited the client.
    if (options.storageQuota === undefined) {
      return [];
    }
    // TODO: borg 2 `serve` (the betas with --permissions) has no --storage-quota,
    // so a policy quota cannot be enforced there.
    throw new ServeArgvError(
      'borg 2 serve cannot enforce storage_quota; remove it from the policy or run borg 1.x',
    );
  }
  return [`--storage-quota=${quota}`];
}

function pickQuota(
  policyQuota: string | undefined,
  clientQuota: string | undefined,
): string | undefined {
  // borg exits with a usage error below 10M, which the client would see as a broken server.
  if (policyQuota !== undefined && !isStorageQuota(policyQuota)) {
    throw new ServeArgvError(
      `storage_quota "${escapeUntrusted(policyQuota)}" is invalid: write a borg size of at least 10M`,
    );
  }
  if (clientQuota !== undefined && !isStorageQuota(clientQuota)) {
    throw new ServeArgvError(
      `client storage quota "${escapeUntrusted(clientQuota)}" is not a borg size of at least 10M`,
    );
  }
  return effectiveStorageQuota(policyQuota, clientQuota);
}
