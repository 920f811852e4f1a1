/** An invalid, unreadable or unsafe policy file; the message names the file and the key path. */
export class PolicyError extends Error {
  override readonly name = 'PolicyError';

  constructor(
    readonly file: string,
    readonly detail: string,
    options?: { cause?: unknown },
  ) {
    super(`${file}: ${detail}`, options);
  }
}

/** Formats a zod issue path the way admins read YAML: `clients[3].repositories[0]`. */
export function formatKeyPath(path: ReadonlyArray<PropertyKey>): string {
  let text = '';
  for (const part of path) {
    if (typeof part === 'number') {
      text += `[${part}]`;
    } else {
      text += text === '' ? String(part) : `.${String(part)}`;
    }
  }
  return text === '' ? '(top level)' : text;
}
