import { parseBorgSize } from './size.js';

/**
 * Picks the storage quota for `borg serve`: the smaller of the policy's and the client's,
 * so a client can only lower its quota. With no policy quota the client's applies; ties
 * keep the policy's text. Throws InvalidBorgSizeError for an invalid size.
 */
export function effectiveStorageQuota(
  policyQuota: string | undefined,
  clientQuota: string | undefined,
): string | undefined {
  if (policyQuota === undefined || clientQuota === undefined) {
    return policyQuota ?? clientQuota;
  }
  return parseBorgSize(clientQuota) < parseBorgSize(policyQuota) ? clientQuota : policyQuota;
}
