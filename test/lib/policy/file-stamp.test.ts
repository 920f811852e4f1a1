import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import {
  formatStamp,
  NO_STAMP,
  STAMP_LENGTH,
  STAMP_SETTLE_NS,
  settledStamp,
} from '../../../src/lib/policy/file-stamp.js';
import { readPolicySource } from '../../../src/lib/policy/source.js';

const dir = mkdtempSync(join(tmpdir(), 'borg-gate-stamp-'));
const file = join(dir, 'policy.yaml');
writeFileSync(file, 'version: 1\n', { mode: 0o600 });

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

afterEach(() => {
  vi.restoreAllMocks();
});

describe('formatStamp', () => {
  it('has a fixed width', () => {
    const stamp = formatStamp(statSync(file, { bigint: true }));
    expect(stamp).toHaveLength(STAMP_LENGTH);
    expect(NO_STAMP).toHaveLength(STAMP_LENGTH);
    expect(stamp).toMatch(/^[0-9a-f]{16}( [0-9a-f]{16}){4}$/);
  });

  it('changes when the file is written', () => {
    const before = formatStamp(statSync(file, { bigint: true }));
    writeFileSync(file, 'version: 2\n');
    expect(formatStamp(statSync(file, { bigint: true }))).not.toBe(before);
  });
});

describe('settledStamp', () => {
  const info = statSync(file, { bigint: true });
  const settled = info.ctimeNs + STAMP_SETTLE_NS;

  it('records a file changed long enough ago', () => {
    expect(settledStamp(info, info, settled)).toBe(formatStamp(info));
  });

  it('skips a recent change', () => {
    expect(settledStamp(info, info, settled - 1n)).toBeUndefined();
  });

  it('skips a file that changed while it was read', () => {
    const after = { ...info, ctimeNs: info.ctimeNs + 1n } as typeof info;
    expect(settledStamp(info, after, settled)).toBeUndefined();
  });
});

describe('readPolicySource', () => {
  it('leaves the stamp out unless asked', async () => {
    expect((await readPolicySource(file)).stamp).toBeUndefined();
  });

  it('leaves the stamp out right after a change', async () => {
    writeFileSync(file, 'version: 1\n');
    expect((await readPolicySource(file, true)).stamp).toBeUndefined();
  });

  it('records the stamp once the change is old', async () => {
    writeFileSync(file, 'version: 1\n');
    const later = Date.now() + Number(STAMP_SETTLE_NS / 1_000_000n) + 1000;
    vi.spyOn(Date, 'now').mockReturnValue(later);
    const source = await readPolicySource(file, true);
    expect(source.stamp).toBe(formatStamp(statSync(file, { bigint: true })));
  });
});
