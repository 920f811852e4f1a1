/**
 * Refusal cases shared by the tests of `serve` under sshd and of `listen`, so both front ends
 * are held to the same messages and audit reasons.
 */

/** Policy overrides of one valid client, the line borg prints, and the audit reason prefix. */
export const CLIENT_STATE_CASES: Array<[string, Record<string, unknown>, string, string]> = [
  [
    'expired client',
    { expires: '2020-01-01' },
    'borg-gate: this key has expired',
    'client-expired',
  ],
  ['disabled client', { disabled: true }, 'borg-gate: this key is disabled', 'client-disabled'],
  [
    'wrong source address',
    { from: ['192.0.2.0/24'] },
    'borg-gate: connections from this address are not permitted for this key',
    'source-not-permitted',
  ],
];

/** Remote commands that are not borg serve, and the line the client sees on stderr. */
export const NON_BORG_CASES: Array<[string, string[], string]> = [
  ['interactive login', [], 'borg-gate: interactive login is not permitted'],
  ['shell command', ['sh', '-c', 'id'], 'borg-gate: only borg serve requests are permitted'],
  [
    'rsync server',
    ['rsync', '--server', '-e.Lsfx', '.', '/tmp'],
    'borg-gate: only borg serve requests are permitted',
  ],
  [
    'command substitution',
    ['borg', 'serve', '$(id)'],
    'borg-gate: only borg serve requests are permitted',
  ],
  [
    'git upload',
    ['git-upload-pack', "'/srv/x'"],
    'borg-gate: only borg serve requests are permitted',
  ],
];

export interface RepositoryLayout {
  /** Directory holding both repositories. */
  root: string;
  /** The repository the client may use, named "alice-main" in the policy. */
  allowed: string;
  /** Another client's repository; `root/link-to-b` is a symlink to it. */
  other: string;
}

/** Paths a client asks for that are outside its grant. */
export const REPOSITORY_CASES: Array<[string, (layout: RepositoryLayout) => string]> = [
  ['another client repository', (layout) => layout.other],
  ['path traversal', (layout) => `${layout.allowed}/../b`],
  ['symlink to another repository', (layout) => `${layout.root}/link-to-b`],
  ['subdirectory of the repository', (layout) => `${layout.allowed}/data`],
  ['home-relative path', () => '/~/a'],
];

export const REPOSITORY_REFUSAL =
  'borg-gate: repository not permitted for this key (permitted: alice-main)';
