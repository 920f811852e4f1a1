import { describe, expect, it } from 'vitest';
import { LISTEN_DEFAULTS, type ListenConfig } from '../../../src/lib/listen/config.js';
import { ConnectionLimits } from '../../../src/lib/listen/limits.js';

function limits(overrides: Partial<ListenConfig> = {}): ConnectionLimits {
  return new ConnectionLimits({
    ...LISTEN_DEFAULTS,
    port: 0,
    policyFile: '/nonexistent',
    fallbackAuditLog: '/nonexistent',
    ...overrides,
  });
}

describe('ConnectionLimits', () => {
  it('caps open connections', () => {
    const counter = limits({ maxConnections: 2 });
    expect(counter.admit('192.0.2.1', 0)).toBeUndefined();
    expect(counter.admit('192.0.2.2', 0)).toBeUndefined();
    expect(counter.admit('192.0.2.3', 0)).toBe('max-connections');
    counter.closed('192.0.2.1', false);
    expect(counter.admit('192.0.2.3', 0)).toBeUndefined();
  });

  it('caps unauthenticated per source', () => {
    const counter = limits({ maxUnauthenticatedPerSource: 1 });
    expect(counter.admit('192.0.2.1', 0)).toBeUndefined();
    expect(counter.admit('192.0.2.1', 0)).toBe('max-unauthenticated');
    expect(counter.admit('192.0.2.2', 0)).toBeUndefined();
    counter.authenticated('192.0.2.1');
    expect(counter.admit('192.0.2.1', 0)).toBeUndefined();
  });

  it('counts an IPv6 /64 as one source', () => {
    const counter = limits({ maxUnauthenticatedPerSource: 1 });
    expect(counter.admit('2001:db8:0:1::1', 0)).toBeUndefined();
    expect(counter.admit('2001:db8:0:1::2', 0)).toBe('max-unauthenticated');
  });

  it('blocks a source after its failure burst', () => {
    const counter = limits({ authFailureBurst: 2, authFailureRefillMs: 1000 });
    expect(counter.recordFailure('192.0.2.1', 0)).toBe(false);
    expect(counter.recordFailure('192.0.2.1', 0)).toBe(true);
    expect(counter.admit('192.0.2.1', 0)).toBe('auth-rate-limited');
    expect(counter.admit('192.0.2.2', 0)).toBeUndefined();
    expect(counter.admit('192.0.2.1', 1000)).toBeUndefined();
  });

  it('authenticated close keeps unauthenticated count', () => {
    const counter = limits({ maxUnauthenticatedPerSource: 1 });
    counter.admit('192.0.2.1', 0);
    counter.authenticated('192.0.2.1');
    counter.admit('192.0.2.1', 0);
    counter.closed('192.0.2.1', true);
    expect(counter.admit('192.0.2.1', 0)).toBe('max-unauthenticated');
    expect(counter.openConnections).toBe(1);
  });
});
