import { escapeUntrusted } from '../audit-log/escape.js';
import { InvalidBorgSizeError } from './errors.js';

/**
 * borg's size syntax as borg-gate accepts it: decimal digits, an optional fraction and an
 * optional K, M, G, T or P suffix. borg's own parser also takes what Python's float() takes
 * (`1e3`, `inf`, `_`), which no client needs.
 */
export const BORG_SIZE_PATTERN = /^[0-9]+(\.[0-9]+)?[KMGTP]?$/;

/** Powers of 1000, as in `parse_file_size` of borg 1.2.4 (`borg/helpers/parseformat.py`). */
const SUFFIX_FACTORS: Record<string, number> = {
  K: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
};

/** Smallest `--storage-quota` borg 1.2.4 accepts (`parse_storage_quota`: at least 10M). */
export const MIN_STORAGE_QUOTA_BYTES = 10e6;

/**
 * Converts a borg size such as `1.5T` to bytes, computing exactly like borg: the number
 * times the decimal factor, truncated toward zero. Throws InvalidBorgSizeError.
 */
export function parseBorgSize(text: string): number {
  if (!BORG_SIZE_PATTERN.test(text)) {
    throw new InvalidBorgSizeError(
      `invalid size "${escapeUntrusted(text)}": write digits and an optional K, M, G, T or P, like 1.5T`,
    );
  }
  const suffix = text.at(-1) ?? '';
  const factor = SUFFIX_FACTORS[suffix];
  const digits = factor === undefined ? text : text.slice(0, -1);
  const bytes = Math.trunc(Number(digits) * (factor ?? 1));
  if (!Number.isFinite(bytes)) {
    throw new InvalidBorgSizeError(`size "${escapeUntrusted(text)}" is too large`);
  }
  return bytes;
}

/** Returns true for a size borg accepts as `--storage-quota` (at least 10M). */
export function isStorageQuota(text: string): boolean {
  if (text.length > 32 || !BORG_SIZE_PATTERN.test(text)) {
    return false;
  }
  return parseBorgSize(text) >= MIN_STORAGE_QUOTA_BYTES;
}
