import { computeRecordHash } from './chain.js';
import { escapeUntrusted } from './escape.js';
import { listLogFiles, parseLine, readLogLineBatches } from './reader.js';
import { auditRecordSchema, GENESIS_HASH } from './record.js';
import { headPath, readHead } from './tail.js';

export type VerifyProblemKind =
  | 'corrupt'
  | 'truncated'
  | 'schema'
  | 'hash_mismatch'
  | 'broken_link'
  | 'head_mismatch'
  | 'anchor_missing';

export interface VerifyProblem {
  file: string;
  /** Line number from 1; the head file is line 1, and 0 means no single line. */
  line: number;
  kind: VerifyProblemKind;
  message: string;
}

export interface VerifyResult {
  ok: boolean;
  /** Files checked, oldest first. */
  files: string[];
  records: number;
  /** The first problems found, in file order. `problemCount` counts all of them. */
  problems: VerifyProblem[];
  problemCount: number;
  /** Hash of the newest record, for auditors to store elsewhere and compare later. */
  lastHash: string | undefined;
  /** True when the oldest file does not start at genesis, because older files were removed. */
  startsMidChain: boolean;
}

export interface VerifyOptions {
  /**
   * Record hashes stored earlier outside the host (for example an earlier `lastHash`).
   * Each must still be in the chain, so a rewrite of the log before it is detected.
   */
  anchors?: string[];
}

const MAX_REPORTED_PROBLEMS = 100;

interface Position {
  file: string;
  line: number;
}

/**
 * Checks every record of the log at `logPath` and its rotated copies: JSON syntax, the
 * record schema, each record's hash, each `prev_hash` link (across file boundaries too),
 * a cut-off last line, and the head file against the newest record.
 * NOTE: anyone who can write the log can recompute the whole chain. Verification proves
 * integrity only relative to a `lastHash` stored somewhere the writer can not change.
 */
export async function verifyAuditLog(
  logPath: string,
  options: VerifyOptions = {},
): Promise<VerifyResult> {
  const files = listLogFiles(logPath);
  // Read before the scan: the record it names was written before it, so the scan meets it
  // even while other processes keep appending.
  const head = readHead(logPath);
  const state = new ChainState(head, options.anchors ?? []);
  for (const file of files) {
    for await (const batch of readLogLineBatches(file)) {
      for (const line of batch) {
        state.check(line.file, line.line, line.text, line.complete);
      }
    }
  }
  state.checkHead(logPath);
  state.checkAnchors(logPath);
  return state.result(files);
}

class ChainState {
  private expected: string | undefined;
  private previous: Position | undefined;
  private records = 0;
  private startsMidChain = false;
  private problems: VerifyProblem[] = [];
  private problemCount = 0;
  private lastHash: string | undefined;
  private headFound = false;

  private missingAnchors: Set<string>;

  constructor(
    private readonly head: string | undefined,
    anchors: string[],
  ) {
    this.missingAnchors = new Set(anchors.map((anchor) => anchor.toLowerCase()));
  }

  check(file: string, line: number, text: string, complete: boolean): void {
    if (!complete) {
      this.report(
        file,
        line,
        'truncated',
        'last line ends without a newline: the file was cut off mid-record',
      );
      return;
    }
    const record = parseLine(text);
    if (record === undefined) {
      this.report(file, line, 'corrupt', 'not a JSON object');
      return;
    }
    this.records++;
    this.checkSchema(file, line, record);
    this.checkLink(file, line, record);
    if (computeRecordHash(record) !== record.hash) {
      this.report(
        file,
        line,
        'hash_mismatch',
        'hash does not match the content: the record was edited',
      );
    }
    if (typeof record.hash === 'string') {
      this.expected = record.hash;
      this.lastHash = record.hash;
      this.headFound ||= record.hash === this.head;
      this.missingAnchors.delete(record.hash);
    }
    this.previous = { file, line };
  }

  private checkSchema(file: string, line: number, record: Record<string, unknown>): void {
    const parsed = auditRecordSchema.safeParse(record);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const path = issue?.path.join('.') || '(record)';
      // Zod quotes unknown keys from the line, which may hold terminal escapes.
      const message = escapeUntrusted(`invalid field ${path}: ${issue?.message}`);
      this.report(file, line, 'schema', message);
    }
  }

  private checkLink(file: string, line: number, record: Record<string, unknown>): void {
    const prevHash = record.prev_hash;
    if (this.expected === undefined) {
      // The oldest file may begin after older rotated files were deleted.
      this.startsMidChain = prevHash !== GENESIS_HASH;
      return;
    }
    if (prevHash === this.expected) {
      return;
    }
    const previous = this.previous!;
    const where =
      previous.file === file ? `line ${previous.line}` : `${previous.file}:${previous.line}`;
    this.report(
      file,
      line,
      'broken_link',
      `prev_hash does not match the hash of the record at ${where}: ` +
        'a record was inserted, deleted or moved here',
    );
  }

  /** Reports records removed from the end: the head file names a hash no record has. */
  checkHead(logPath: string): void {
    if (this.head === undefined || this.headFound) {
      return;
    }
    this.report(
      headPath(logPath),
      1,
      'head_mismatch',
      `names hash ${this.head}, which no record has: records were removed from the end of the log`,
    );
  }

  /** Reports anchors that no record has: the chain was rewritten, or that file rotated away. */
  checkAnchors(logPath: string): void {
    for (const anchor of this.missingAnchors) {
      this.report(
        logPath,
        0,
        'anchor_missing',
        `no record has the anchor hash ${anchor}: the log was rewritten, or the file with ` +
          'that record was rotated away',
      );
    }
  }

  private report(file: string, line: number, kind: VerifyProblemKind, message: string): void {
    this.problemCount++;
    if (this.problems.length < MAX_REPORTED_PROBLEMS) {
      this.problems.push({ file, line, kind, message });
    }
  }

  result(files: string[]): VerifyResult {
    return {
      ok: this.problemCount === 0,
      files,
      records: this.records,
      problems: this.problems,
      problemCount: this.problemCount,
      lastHash: this.lastHash,
      startsMidChain: this.startsMidChain,
    };
  }
}
