import { type PolicyFileHandle, readPolicyChunks } from '../policy/policy-file.js';

// Byte-level reads of the policy for `keys lookup`, which must finish far faster than a parse.

/**
 * Returns false only when the policy text cannot name the key: its base64 appears nowhere,
 * not even across the line continuations of double-quoted YAML strings, which the parser
 * removes. NOTE: a key whose base64 is written with YAML escape sequences (\x2B) is not found.
 */
export function policyMayListKey(handle: PolicyFileHandle, keyBase64: string): boolean {
  const needle = Buffer.from(keyBase64, 'latin1');
  let found = false;
  let sawBackslash = false;
  let tail = Buffer.alloc(0);
  readPolicyChunks(handle, (chunk) => {
    if (found) {
      return;
    }
    sawBackslash ||= chunk.includes(0x5c);
    // The end of the previous chunk joined to the start of this one catches a split match.
    const seam = Buffer.concat([tail, chunk.subarray(0, needle.length - 1)]);
    found = seam.includes(needle) || chunk.includes(needle);
    tail = Buffer.from(chunk.subarray(Math.max(0, chunk.length - (needle.length - 1))));
  });
  if (found || !sawBackslash) {
    return found;
  }
  return joinedTextIncludes(handle, keyBase64);
}

/** Searches the whole text with double-quoted line continuations removed, as YAML reads them. */
function joinedTextIncludes(handle: PolicyFileHandle, keyBase64: string): boolean {
  const chunks: Buffer[] = [];
  readPolicyChunks(handle, (chunk) => {
    chunks.push(Buffer.from(chunk));
  });
  const text = Buffer.concat(chunks).toString('utf8');
  return text.replace(/\\\r?\n[ \t]*/g, '').includes(keyBase64);
}
