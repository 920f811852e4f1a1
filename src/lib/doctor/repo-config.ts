/** The `[repository]` section of a borg 1.x repository's `config` file. */
export interface RepositoryConfig {
  appendOnly: boolean;
  /** Repository id: 64 hex digits written by `borg init`; a copied repository keeps it. */
  id: string | undefined;
  /** The repokey blob (base64 of the encrypted key), with line breaks removed; absent for keyfile and none. */
  key: string | undefined;
  storageQuota: string | undefined;
}

/**
 * Parses the INI text borg writes with Python's configparser: `name = value` lines, and
 * continuation lines that start with whitespace (the multi-line `key`).
 * Returns undefined when there is no `[repository]` section.
 */
export function parseRepositoryConfig(text: string): RepositoryConfig | undefined {
  const values = new Map<string, string>();
  let section: string | undefined;
  let current: string | undefined;
  for (const rawLine of text.split('\n').map((line) => line.replace(/\r$/, ''))) {
    if (/^\s*([#;].*)?$/.test(rawLine)) {
      continue;
    }
    const header = /^\[([^\]]+)\]\s*$/.exec(rawLine);
    if (header !== null) {
      section = header[1]!.trim();
      current = undefined;
      continue;
    }
    if (section !== 'repository') {
      continue;
    }
    if (/^\s/.test(rawLine) && current !== undefined) {
      values.set(current, `${values.get(current) ?? ''}${rawLine.trim()}`);
      continue;
    }
    const pair = /^([^=:]+?)\s*[=:]\s*(.*)$/.exec(rawLine);
    if (pair !== null) {
      current = pair[1]!.toLowerCase();
      values.set(current, pair[2]!.trim());
    }
  }
  if (section === undefined && values.size === 0) {
    return undefined;
  }
  if (!values.has('version') && !values.has('id')) {
    return undefined;
  }
  return {
    appendOnly: values.get('append_only') === '1',
    id: values.get('id') || undefined,
    key: values.get('key') || undefined,
    storageQuota: values.get('storage_quota'),
  };
}
