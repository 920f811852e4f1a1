import type { ServeRequest } from './types.js';

/**
 * Writes a parsed request back as command words in one fixed order and the `--flag=value`
 * form, so `parseSshCommand(words.join(' '))` returns an equal request. Log records and a
 * sanitized SSH_ORIGINAL_COMMAND can use it instead of the client's raw text.
 */
export function toCanonicalWords(request: ServeRequest): string[] {
  const words = [request.program, 'serve'];
  if (request.logLevel !== undefined) {
    words.push(`--${request.logLevel}`);
  }
  for (const topic of request.debugTopics) {
    words.push(`--debug-topic=${topic}`);
  }
  if (request.logJson) {
    words.push('--log-json');
  }
  if (request.lockWait !== undefined) {
    words.push(`--lock-wait=${request.lockWait}`);
  }
  if (request.umask !== undefined) {
    words.push(`--umask=${request.umask}`);
  }
  if (request.storageQuota !== undefined) {
    words.push(`--storage-quota=${request.storageQuota}`);
  }
  return words;
}
