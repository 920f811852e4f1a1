import { flagIsSet } from './decode.js';

/** How much a key may change its repository. */
export type SessionMode = 'read-only' | 'append-only' | 'read-write';

/** Exception class of every refusal reply; borg clients print the message of unknown classes. */
export const REFUSAL_CLASS = 'BorgGateRefusal';

export const REFUSAL_MESSAGES = {
  readOnly: 'borg-gate: this repository is read-only for this key',
  check: 'borg-gate: borg check is not permitted for this key',
  delete: 'borg-gate: deleting archives is not permitted for this key',
  destroy: 'borg-gate: deleting the repository is not permitted for this key',
  compact: 'borg-gate: compacting the repository is not permitted for this key',
  repair: 'borg-gate: repairing the repository is not permitted for this key',
  breakLock: 'borg-gate: breaking repository locks is not permitted for this key',
  saveKey: 'borg-gate: changing the repository key is not permitted for this key',
  secondOpen: 'borg-gate: a session may open only one repository',
  method: 'borg-gate: this RPC method is not permitted',
  ended: 'borg-gate: the session ended after a refused request',
} as const;

/** Policy state a conditional rule may read. */
export interface RuleContext {
  allowCheck: boolean;
  /** True when this session's `open` created the repository (`borg init`). */
  repositoryCreated: boolean;
  /** Returns true if `id` was sent by an allowed `put` earlier in this session. */
  putInSession(id: unknown): boolean;
}

/** Decision for one request. */
export type Verdict =
  | { action: 'forward' }
  | { action: 'refuse'; message: string }
  /** The gate replies with a nil result itself and borg never receives the request. */
  | { action: 'answer-nil' };

/** Verdict for one method: fixed, or computed from the decoded arguments. */
export type Rule =
  | Verdict
  | { action: 'check'; test: (args: Record<string, unknown>, context: RuleContext) => Verdict };

const allow: Rule = { action: 'forward' };

/** borg 1.x stores its manifest under an id of 32 zero bytes. */
export function isManifestId(id: unknown): boolean {
  return id instanceof Uint8Array && id.length === 32 && id.every((byte) => byte === 0);
}
const answerNil: Verdict = { action: 'answer-nil' };
const refuse = (message: string): Verdict => ({ action: 'refuse', message });
const check = (test: Extract<Rule, { action: 'check' }>['test']): Rule => ({
  action: 'check',
  test,
});

/** Returns the verdict of `rule` for one request's arguments. */
export function evaluate(rule: Rule, args: Record<string, unknown>, context: RuleContext): Verdict {
  return rule.action === 'check' ? rule.test(args, context) : rule;
}

// Methods that only read. rollback resets borg's in-memory transaction state and touches no file.
// Every client sends it after an error, so refusing it would turn each refusal into a hang.
const READS: Record<string, Rule> = {
  get: allow,
  list: allow,
  scan: allow,
  __len__: allow,
  load_key: allow,
  rollback: allow,
};

const readOnly: Record<string, Rule> = {
  ...READS,
  // check(repair=false) still takes an exclusive lock and rewrites the config file, so it is opt-in.
  check: check((args, context) => {
    if (flagIsSet(args.repair)) return refuse(REFUSAL_MESSAGES.readOnly);
    return context.allowCheck ? allow : refuse(REFUSAL_MESSAGES.check);
  }),
  // With repokey or keyfile encryption, check without repair still encrypts the archive metadata
  // it rebuilds (borg 1.2.4), so it reserves nonces first. It never stores that ciphertext, so the
  // gate replies to both calls itself: nil means "no nonce file" and "reserved". borg writes nothing.
  get_free_nonce: check((_args, context) =>
    context.allowCheck ? answerNil : refuse(REFUSAL_MESSAGES.readOnly),
  ),
  commit_nonce_reservation: check((_args, context) =>
    context.allowCheck ? answerNil : refuse(REFUSAL_MESSAGES.readOnly),
  ),
};

// NOTE: append-only still lets a client overwrite any object with `put`, the manifest included,
// which hides archives without a `delete`. Run `borg serve --append-only` as well, so the segments
// that held the old objects stay on disk and an admin can roll the repository back.
const appendOnly: Record<string, Rule> = {
  ...READS,
  put: allow,
  get_free_nonce: allow,
  commit_nonce_reservation: allow,
  // borg create deletes its own checkpoint archive objects; deleting older objects removes data.
  // A modified client could `put` an existing id and then delete it. The manifest is the one
  // object whose loss hides every archive, and borg never deletes it, so that id is refused.
  // NOTE: other pre-existing ids can still be removed this way; borg's --append-only keeps
  // their old segments, so an admin can roll the repository back.
  delete: check((args, context) =>
    context.putInSession(args.id) && !isManifestId(args.id)
      ? allow
      : refuse(REFUSAL_MESSAGES.delete),
  ),
  // Compaction frees the segments of overwritten and deleted objects for good. The borg 1.2
  // client sends compact=False on every commit except `borg compact`.
  commit: check((args) => (args.compact === false ? allow : refuse(REFUSAL_MESSAGES.compact))),
  check: check((args) => (flagIsSet(args.repair) ? refuse(REFUSAL_MESSAGES.repair) : allow)),
  destroy: refuse(REFUSAL_MESSAGES.destroy),
  // Breaking the lock of a running session lets two writers corrupt the repository index.
  break_lock: refuse(REFUSAL_MESSAGES.breakLock),
  // A replaced or garbled repokey makes every archive unreadable, which equals deleting them.
  // `borg init -e repokey` stores the first key of the repository its own `open` just created,
  // where no archive exists yet, so that one session may save it.
  save_key: check((_args, context) =>
    context.repositoryCreated ? allow : refuse(REFUSAL_MESSAGES.saveKey),
  ),
};

const readWrite: Record<string, Rule> = {
  ...READS,
  check: allow,
  put: allow,
  delete: allow,
  commit: allow,
  destroy: allow,
  break_lock: allow,
  save_key: allow,
  get_free_nonce: allow,
  commit_nonce_reservation: allow,
};

const RULES: Record<SessionMode, Record<string, Rule>> = {
  'read-only': readOnly,
  'append-only': appendOnly,
  'read-write': readWrite,
};

/**
 * Returns the rule for `method` after the handshake. Methods missing from the mode's table are
 * refused: a write method in a read-only session, a second `open` (borg would leak the first
 * repository's lock), `negotiate`, `inject_exception` (a test hook) and names borg does not know.
 */
export function ruleFor(mode: SessionMode, method: string): Rule {
  const table = RULES[mode];
  if (Object.hasOwn(table, method)) return table[method]!;
  if (method === 'open') return refuse(REFUSAL_MESSAGES.secondOpen);
  // A read-write key may call these methods, so refusing one names the read-only grant.
  const isWrite = mode === 'read-only' && Object.hasOwn(readWrite, method);
  return refuse(isWrite ? REFUSAL_MESSAGES.readOnly : REFUSAL_MESSAGES.method);
}
