import type { LogLevel, ServeRequest } from '../ssh-command/types.js';
import { isStorageQuota } from './size.js';
import { isDebugTopic, isLockWait, isSmallInteger, isUmask } from './values.js';

/** The fields of a ServeRequest that flags set. */
export type ServeFlagFields = Omit<ServeRequest, 'kind' | 'program'>;

/** `none` for a switch, otherwise the check a flag's value must pass. */
export type FlagValue = 'none' | ((value: string) => boolean);

interface RuleBase {
  flag: string;
  aliases: readonly string[];
  value: FlagValue;
  /** Reason for the verdict, in one line. */
  reason: string;
}

/** Flag copied into the ServeRequest by `apply`. With `once`, a repeat rejects the command. */
export interface AllowRule extends RuleBase {
  verdict: 'allow';
  once?: boolean;
  apply: (fields: ServeFlagFields, value: string) => void;
}

/** Flag accepted and dropped once its value passes the check. */
export interface IgnoreRule extends RuleBase {
  verdict: 'ignore';
}

/** Flag that rejects the whole command. */
export interface ForbidRule extends RuleBase {
  verdict: 'forbid';
}

export type FlagRule = AllowRule | IgnoreRule | ForbidRule;

function logLevelRule(level: LogLevel, aliases: readonly string[] = []): AllowRule {
  return {
    flag: `--${level}`,
    aliases,
    value: 'none',
    verdict: 'allow',
    reason: 'log level of the server process, the last one wins as in argparse',
    apply: (fields) => {
      fields.logLevel = level;
    },
  };
}

/**
 * Every option `borg serve` takes (borg 1.2.4 common options and serve options, plus
 * borg 2's `--permissions` and `--socket`). A flag missing here is rejected as unknown.
 * Only exact names match: argparse's prefix matching (`--inf`) is not reproduced.
 */
export const SERVE_FLAGS: readonly FlagRule[] = [
  logLevelRule('debug'),
  logLevelRule('info', ['-v', '--verbose']),
  logLevelRule('warning'),
  logLevelRule('error'),
  logLevelRule('critical'),
  {
    flag: '--debug-topic',
    aliases: [],
    value: isDebugTopic,
    verdict: 'allow',
    reason: 'extra debug logging to the client, for a name of letters, digits, "_" and "."',
    apply: (fields, value) => {
      fields.debugTopics.push(value);
    },
  },
  {
    flag: '--log-json',
    aliases: [],
    value: 'none',
    verdict: 'allow',
    reason: 'log format only',
    apply: (fields) => {
      fields.logJson = true;
    },
  },
  {
    flag: '--lock-wait',
    aliases: [],
    value: isLockWait,
    verdict: 'allow',
    once: true,
    reason: 'borg copies it from a forced command too, bounded to one day',
    apply: (fields, value) => {
      fields.lockWait = Number(value);
    },
  },
  {
    flag: '--umask',
    aliases: [],
    value: isUmask,
    verdict: 'allow',
    once: true,
    reason: 'borg 1.0 and 1.1 clients always send it, recorded but never passed on',
    apply: (fields, value) => {
      fields.umask = value;
    },
  },
  {
    flag: '--storage-quota',
    aliases: [],
    value: isStorageQuota,
    verdict: 'allow',
    once: true,
    reason: 'sent by `borg init --storage-quota` and capped by the policy quota',
    apply: (fields, value) => {
      fields.storageQuota = value;
    },
  },
  ...ignoredFlags(),
  ...forbiddenFlags(),
];

function ignoredFlags(): IgnoreRule[] {
  const rule = (flag: string, aliases: string[], value: FlagValue): IgnoreRule => ({
    flag,
    aliases,
    value,
    verdict: 'ignore',
    reason: 'no effect on a server process',
  });
  return [
    rule('--show-rc', [], 'none'),
    rule('--show-version', [], 'none'),
    rule('--iec', [], 'none'),
    rule('--progress', ['-p'], 'none'),
    rule('--consider-part-files', [], 'none'),
    rule('--upload-ratelimit', ['--remote-ratelimit'], isSmallInteger),
    rule('--upload-buffer', ['--remote-buffer'], isSmallInteger),
  ];
}

function forbiddenFlags(): ForbidRule[] {
  const rule = (flag: string, aliases: string[], value: FlagValue, reason: string): ForbidRule => ({
    flag,
    aliases,
    value,
    verdict: 'forbid',
    reason,
  });
  const anyValue = () => true;
  return [
    rule('--restrict-to-path', [], anyValue, 'access limits come from the policy only'),
    rule('--restrict-to-repository', [], anyValue, 'access limits come from the policy only'),
    rule('--append-only', [], 'none', 'the policy mode decides, never the client'),
    rule('--permissions', [], anyValue, 'borg 2 mode, which the policy mode decides'),
    rule('--debug-profile', [], anyValue, 'writes a profile to a file the client names'),
    rule(
      '--bypass-lock',
      [],
      'none',
      'skips repository locking, and borg itself rejects it for serve',
    ),
    rule('--rsh', [], anyValue, 'client-side option naming a command, no client sends it to serve'),
    rule(
      '--remote-path',
      [],
      anyValue,
      'client-side option naming a program, no client sends it to serve',
    ),
    rule('--socket', [], anyValue, 'borg 2 socket server mode, never started over ssh'),
    rule(
      '--help',
      ['-h'],
      'none',
      'no client sends it, and borg would print usage instead of serving',
    ),
  ];
}

const FLAG_INDEX = new Map<string, FlagRule>(
  SERVE_FLAGS.flatMap((rule) => [rule.flag, ...rule.aliases].map((name) => [name, rule] as const)),
);

/** Finds the rule for an exact flag name or alias. */
export function findFlagRule(name: string): FlagRule | undefined {
  return FLAG_INDEX.get(name);
}
