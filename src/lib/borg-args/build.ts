import { escapeUntrusted } from '../audit-log/escape.js';
import type { ServeRequest } from '../ssh-command/types.js';
import { checkAbsolutePath, checkRequest, checkRestrictions } from './build-checks.js';
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
 * topics come from the client; restrictions, mode and quota come from the policy, and the
 * client's umask, lock wait and log format are dropped. Every value uses the `--flag=value`
 * form so no value can be read as an option. Throws ServeArgvError for unsafe options.
 */
export function buildServeArgv(options: ServeArgvOptions): ServeArgv {
  checkAbsolutePath(options.binary, 'borg binary');
  checkRestrictions(options.restrictToRepositories, options.restrictToPaths);
  checkRequest(options.request);
  const args = [
    'serve',
    ...loggingArgs(options.request),
    ...options.restrictToRepositories.map((path) => `--restrict-to-repository=${path}`),
    ...options.restrictToPaths.map((path) => `--restrict-to-path=${path}`),
    ...modeArgs(options.borgMajor, options.mode),
    ...quotaArgs(options),
  ];
  return { file: options.binary, args };
}

function loggingArgs(request: ServeRequest): string[] {
  const args = request.logLevel === undefined ? [] : [`--${request.logLevel}`];
  return args.concat(request.debugTopics.map((topic) => `--debug-topic=${topic}`));
}

function modeArgs(borgMajor: 1 | 2, mode: ServeMode): string[] {
  if (borgMajor === 2) {
    // NOTE: borg 2 enforces --permissions only on borg 2 repositories; legacy ones get no check.
    return [`--permissions=${BORG2_PERMISSIONS[mode]}`];
  }
  switch (mode) {
    case 'append-only':
      return ['--append-only'];
    case 'read-only':
      // borg 1.x has no read-only serve; the RPC filter enforces it, this keeps old data if it fails.
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
    // A quota the client asked for itself may be dropped: it only ever limited the client.
    if (options.storageQuota === undefined) {
      return [];
    }
    // TODO: borg 2 `serve` has no --storage-quota (removed in the 2.0 betas), so it cannot enforce one.
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
      `storage_quota "${escapeUntrusted(policyQuota)}" is not a borg size of at least 10M; fix it in the policy`,
    );
  }
  if (clientQuota !== undefined && !isStorageQuota(clientQuota)) {
    throw new ServeArgvError(
      `client storage quota "${escapeUntrusted(clientQuota)}" is not a borg size of at least 10M`,
    );
  }
  return effectiveStorageQuota(policyQuota, clientQuota);
}
