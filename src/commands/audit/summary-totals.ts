import { safeText } from './format.js';

/** Activity of one client over the records read. Times are ISO 8601 strings. */
export interface ClientSummary {
  client: string;
  last_access: string | null;
  connections: number;
  refusals: number;
  bytes_in: number;
  /**
   * Sum over the sessions whose records carry `bytes_out`; null when none does, because borg
   * wrote the replies of every session to the client itself.
   */
  bytes_out: number | null;
  last_refusal_reason: string | null;
  last_refusal_time: string | null;
  /** Time of the newest session per repository that ended with a committed transaction. */
  last_write: Record<string, string>;
}

/** Key for a record without a client id (rejected before lookup) or without a repository. */
export const UNKNOWN = '(unknown)';

/**
 * Aggregates session records per client. Summaries are keyed by the escaped client id;
 * a second map by the id as read skips escaping an id that was seen before.
 */
export class ClientTotals {
  private readonly bySafeId = new Map<string, ClientSummary>();
  private readonly byRawId = new Map<string, ClientSummary>();
  /** Escaped repository per repository as read. */
  private readonly safeRepositories = new Map<string, string>();

  /** Adds one record; records of other events than `session_*` are ignored. */
  add(record: Record<string, unknown>): void {
    const event = record.event;
    if (typeof event !== 'string' || !event.startsWith('session_')) {
      return;
    }
    const summary = this.summaryOf(record.client_id);
    const time = typeof record.time === 'string' ? record.time : '';
    if (summary.last_access === null || time > summary.last_access) {
      summary.last_access = detach(time);
    }
    if (event === 'session_start' || event === 'session_refused') {
      summary.connections++;
    }
    if (event === 'session_refused' || record.decision === 'refuse') {
      countRefusal(summary, record, time);
    }
    if (event === 'session_end') {
      this.countSessionEnd(summary, record, time);
    }
  }

  private countSessionEnd(
    summary: ClientSummary,
    record: Record<string, unknown>,
    time: string,
  ): void {
    if (typeof record.bytes_in === 'number') {
      summary.bytes_in += record.bytes_in;
    }
    if (typeof record.bytes_out === 'number') {
      summary.bytes_out = (summary.bytes_out ?? 0) + record.bytes_out;
    }
    if (record['rpc.commit'] !== true) {
      return;
    }
    const repository = this.safeRepository(record.repository);
    const previous = summary.last_write[repository];
    if (previous === undefined || time > previous) {
      summary.last_write[repository] = detach(time);
    }
  }

  private safeRepository(repository: unknown): string {
    if (typeof repository !== 'string') {
      return safeText(repository) || UNKNOWN;
    }
    let safe = this.safeRepositories.get(repository);
    if (safe === undefined) {
      safe = detach(safeText(repository) || UNKNOWN);
      this.safeRepositories.set(detach(repository), safe);
    }
    return safe;
  }

  summaries(): ClientSummary[] {
    return [...this.bySafeId.values()];
  }

  private summaryOf(clientId: unknown): ClientSummary {
    const raw = typeof clientId === 'string' ? clientId : undefined;
    const known = raw === undefined ? undefined : this.byRawId.get(raw);
    if (known !== undefined) {
      return known;
    }
    const key = raw === undefined ? UNKNOWN : detach(safeText(raw));
    let summary = this.bySafeId.get(key);
    if (summary === undefined) {
      summary = emptySummary(key);
      this.bySafeId.set(key, summary);
    }
    if (raw !== undefined) {
      this.byRawId.set(detach(raw), summary);
    }
    return summary;
  }
}

/**
 * Returns a copy of `text` that does not share memory with the chunk it was cut from.
 * V8 (Node 20) keeps a substring of 13 or more characters as a view of its parent string, so one
 * stored time or id would keep a whole 64 KiB chunk of the log alive. Slicing a
 * concatenation makes V8 copy the characters into a new string first.
 */
function detach(text: string): string {
  return ` ${text}`.slice(1);
}

function emptySummary(client: string): ClientSummary {
  return {
    client,
    last_access: null,
    connections: 0,
    refusals: 0,
    bytes_in: 0,
    bytes_out: null,
    last_refusal_reason: null,
    last_refusal_time: null,
    // No prototype: a repository named `__proto__` must stay an ordinary key.
    last_write: Object.create(null) as Record<string, string>,
  };
}

function countRefusal(summary: ClientSummary, record: Record<string, unknown>, time: string): void {
  summary.refusals++;
  if (summary.last_refusal_time === null || time >= summary.last_refusal_time) {
    summary.last_refusal_time = detach(time);
    const reason = safeText(record.reason);
    summary.last_refusal_reason = reason === '' ? null : detach(reason);
  }
}
