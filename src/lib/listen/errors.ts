/** A problem that stops `borg-gate listen` from starting; the message names the file and the fix. */
export class ListenError extends Error {
  override readonly name = 'ListenError';
}
