import { escapeUntrusted } from '../audit-log/escape.js';
import { LOG_LEVELS, type ServeRequest } from '../ssh-command/types.js';
import { ServeArgvError } from './errors.js';
import { isDebugTopic } from './values.js';

/** Input checks for buildServeArgv. Each throws ServeArgvError. */

/** Absolute, no `.` or `..` segment, no empty segment, no control or non-ASCII character. */
const CLEAN_ABSOLUTE_PATH = /^(\/[\x20-\x7e]+)+$/;

export function checkAbsolutePath(path: string, label: string): void {
  const segments = path.split('/').slice(1);
  const clean =
    CLEAN_ABSOLUTE_PATH.test(path) &&
    segments.every((segment) => segment !== '' && segment !== '.' && segment !== '..');
  // A relative or `..` path would make borg enforce a different directory than the policy names.
  if (!clean) {
    throw new ServeArgvError(
      `${label} "${escapeUntrusted(path)}" is not a clean absolute path; fix it in the policy`,
    );
  }
}

export function checkRestrictions(repositories: readonly string[], paths: readonly string[]): void {
  // NOTE: borg serve without any --restrict-to-* option serves every path the user can open.
  if (repositories.length === 0 && paths.length === 0) {
    throw new ServeArgvError(
      'no repository or path to restrict borg serve to; give the client at least one in the policy',
    );
  }
  for (const repository of repositories) {
    checkAbsolutePath(repository, 'repository');
  }
  for (const path of paths) {
    checkAbsolutePath(path, 'path');
  }
}

/** Re-checks the request fields that reach the argv, in case the object was not parsed. */
export function checkRequest(request: ServeRequest): void {
  if (request.logLevel !== undefined && !LOG_LEVELS.includes(request.logLevel)) {
    throw new ServeArgvError(`invalid log level "${escapeUntrusted(String(request.logLevel))}"`);
  }
  for (const topic of request.debugTopics) {
    if (!isDebugTopic(topic)) {
      throw new ServeArgvError(`invalid debug topic "${escapeUntrusted(topic)}"`);
    }
  }
}

/** Rejects values outside the types, which a caller without type checks could pass. */
export function checkVersionAndMode(borgMajor: number, mode: string): void {
  if (borgMajor !== 1 && borgMajor !== 2) {
    throw new ServeArgvError(`unsupported borg major version ${borgMajor}: use borg 1.x or 2`);
  }
  if (!['append-only', 'read-write', 'read-only'].includes(mode)) {
    throw new ServeArgvError(`invalid mode "${escapeUntrusted(String(mode))}"`);
  }
}
