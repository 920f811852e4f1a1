import type { ParsedCommand } from '../ssh-command/types.js';
import { type RefusalReason, SessionRefused } from './refusals.js';

type Rejection = Extract<ParsedCommand, { kind: 'rejected' }>;

/** Maps a parser rejection to the refusal shown to the client. */
export function commandRefusal(rejection: Rejection): SessionRefused {
  return new SessionRefused(
    reasonFor(rejection.reason),
    `${rejection.reason}: ${rejection.detail}`,
  );
}

function reasonFor(reason: Rejection['reason']): RefusalReason {
  switch (reason) {
    case 'empty':
      return 'interactive-login';
    case 'forbidden-flag':
    case 'unknown-flag':
    case 'bad-flag-value':
    case 'extra-arguments':
      return 'flag-not-permitted';
    default:
      return 'command-not-permitted';
  }
}
