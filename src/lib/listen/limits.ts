import type { ListenConfig } from './config.js';
import { sourceKey } from './source.js';
import { TokenBucket } from './token-bucket.js';

export type AdmissionRefusal = 'max-connections' | 'max-unauthenticated' | 'auth-rate-limited';

/** Sources tracked for failed logins before full buckets are forgotten. */
const MAX_TRACKED_SOURCES = 10_000;

/**
 * Counts open and unauthenticated connections and failed logins per source, and decides whether
 * a new connection is admitted. Time comes from the caller in milliseconds.
 */
export class ConnectionLimits {
  private open = 0;
  private readonly unauthenticated = new Map<string, number>();
  private readonly failures = new Map<string, TokenBucket>();

  constructor(private readonly config: ListenConfig) {}

  /** Admits and counts a new unauthenticated connection, or returns why it is refused. */
  admit(address: string, now: number): AdmissionRefusal | undefined {
    const source = sourceKey(address);
    if (this.open >= this.config.maxConnections) {
      return 'max-connections';
    }
    if (this.failures.get(source)?.hasTokens(now) === false) {
      return 'auth-rate-limited';
    }
    const pending = this.unauthenticated.get(source) ?? 0;
    if (pending >= this.config.maxUnauthenticatedPerSource) {
      return 'max-unauthenticated';
    }
    this.open += 1;
    this.unauthenticated.set(source, pending + 1);
    return undefined;
  }

  /** Moves an admitted connection from unauthenticated to authenticated. */
  authenticated(address: string): void {
    this.releaseUnauthenticated(sourceKey(address));
  }

  /** Forgets an admitted connection; `wasAuthenticated` selects the count it was in. */
  closed(address: string, wasAuthenticated: boolean): void {
    this.open = Math.max(0, this.open - 1);
    if (!wasAuthenticated) {
      this.releaseUnauthenticated(sourceKey(address));
    }
  }

  /** Records a connection that ended without logging in; returns true when its source is now blocked. */
  recordFailure(address: string, now: number): boolean {
    const source = sourceKey(address);
    let bucket = this.failures.get(source);
    if (bucket === undefined) {
      this.forgetIdleSources(now);
      bucket = new TokenBucket(this.config.authFailureBurst, this.config.authFailureRefillMs, now);
      this.failures.set(source, bucket);
    }
    bucket.take(now);
    return !bucket.hasTokens(now);
  }

  get openConnections(): number {
    return this.open;
  }

  private releaseUnauthenticated(source: string): void {
    const pending = (this.unauthenticated.get(source) ?? 1) - 1;
    if (pending <= 0) {
      this.unauthenticated.delete(source);
    } else {
      this.unauthenticated.set(source, pending);
    }
  }

  /** Bounds memory under a flood from many sources: full buckets carry no state worth keeping. */
  private forgetIdleSources(now: number): void {
    if (this.failures.size < MAX_TRACKED_SOURCES) {
      return;
    }
    for (const [source, bucket] of this.failures) {
      if (bucket.isFull(now)) {
        this.failures.delete(source);
      }
    }
    // TODO: when every tracked source is still blocked, the oldest entries are dropped and
    // those sources regain their full burst early.
    while (this.failures.size >= MAX_TRACKED_SOURCES) {
      const oldest = this.failures.keys().next().value as string;
      this.failures.delete(oldest);
    }
  }
}
