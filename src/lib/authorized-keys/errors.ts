/** A policy that cannot be rendered, or an authorized_keys file that cannot be safely replaced. */
export class AuthorizedKeysError extends Error {
  override name = 'AuthorizedKeysError';
}
