/** A size in borg's syntax (`500M`, `1.5T`) could not be read. */
export class InvalidBorgSizeError extends Error {
  override readonly name = 'InvalidBorgSizeError';
}

/** The options for `borg serve` are unsafe or cannot be expressed for this borg version. */
export class ServeArgvError extends Error {
  override readonly name = 'ServeArgvError';
}
