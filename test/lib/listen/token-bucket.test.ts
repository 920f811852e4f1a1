import { describe, expect, it } from 'vitest';
import { TokenBucket } from '../../../src/lib/listen/token-bucket.js';

describe('TokenBucket', () => {
  it('allows the burst, then blocks', () => {
    const bucket = new TokenBucket(3, 1000, 0);
    expect([bucket.take(0), bucket.take(0), bucket.take(0)]).toEqual([true, true, true]);
    expect(bucket.take(0)).toBe(false);
    expect(bucket.hasTokens(0)).toBe(false);
  });

  it('refills one token per interval', () => {
    const bucket = new TokenBucket(2, 1000, 0);
    bucket.take(0);
    bucket.take(0);
    expect(bucket.hasTokens(999)).toBe(false);
    expect(bucket.take(1000)).toBe(true);
    expect(bucket.take(1000)).toBe(false);
  });

  it('never exceeds its capacity', () => {
    const bucket = new TokenBucket(2, 1000, 0);
    expect(bucket.isFull(1_000_000)).toBe(true);
    expect([bucket.take(1_000_000), bucket.take(1_000_000), bucket.take(1_000_000)]).toEqual([
      true,
      true,
      false,
    ]);
  });

  it('ignores a clock that goes back', () => {
    const bucket = new TokenBucket(1, 1000, 5000);
    bucket.take(5000);
    expect(bucket.hasTokens(0)).toBe(false);
  });
});
