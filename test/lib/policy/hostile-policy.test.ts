import { execFile, execFileSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  closeSync,
  constants,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { PolicyError } from '../../../src/lib/policy/errors.js';
import { loadPolicy, parsePolicy } from '../../../src/lib/policy/load.js';
import { pack, request } from '../rpc/fixtures/pack.js';

const KEY_A =
  'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJZ3sQ1lk1FGy0vU7uJYkUtlN3kN5sMLb6JqvU8bZ3Xk a@test';
const KEY_B =
  'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIH0Q9mD3dC4KqOeUeZMuy7Zc5H6Vw5J1h8cuHq2vNfPb b@test';

/** A policy that sets every field of the schema, so each one can be broken in turn. */
function fullPolicy(): Record<string, unknown> {
  return {
    version: 1,
    audit_log: '/var/log/gate-test/audit.log',
    state_dir: '/var/lib/gate-test',
    borg: {
      umask: '0077',
      binaries: { borg: '/usr/bin/borg', borg1: { path: '/usr/bin/borg', major: 1 } },
    },
    checks: {
      defaults: {
        timeout: '6h',
        lock_wait: 10,
        overdue_after: 1.5,
        alert_command: ['/usr/bin/logger', 'check failed'],
      },
      repositories: { '/srv/borg/a': { unencrypted: true, disabled: false } },
      state_file: '/var/lib/gate-test/check-state.json',
    },
    clients: [
      {
        id: 'web01',
        keys: [KEY_A, { key: KEY_B, expires: '2030-01-01', added: '2026-01-01' }],
        repositories: [
          '/srv/borg/a',
          { path: '/srv/borg/b', name: 'b', mode: 'read-only', storage_quota: '10G', shared: true },
        ],
        paths: ['/srv/borg/c'],
        mode: 'append-only',
        storage_quota: '500G',
        from: ['192.0.2.0/24'],
        expires: '2030-06-30',
        disabled: false,
        allow_check: true,
        comment: 'web server',
      },
    ],
  };
}

type PathPart = string | number;

/** Returns fullPolicy() as YAML with the value at `path` replaced (or a key added). */
function policyWith(path: PathPart[], value: unknown): string {
  const policy = fullPolicy();
  let node = policy as Record<PathPart, unknown>;
  for (const part of path.slice(0, -1)) {
    node = node[part] as Record<PathPart, unknown>;
  }
  node[path.at(-1)!] = value;
  return stringify(policy);
}

/** Formats a path the way PolicyError does: `clients[0].keys[1]`. */
function keyPath(path: PathPart[]): string {
  let text = '';
  for (const part of path) {
    if (typeof part === 'number') {
      text += `[${part}]`;
    } else {
      text += text === '' ? part : `.${part}`;
    }
  }
  return text;
}

function catchPolicyError(action: () => unknown): PolicyError {
  try {
    action();
  } catch (error) {
    if (error instanceof PolicyError) {
      return error;
    }
    throw error;
  }
  throw new Error('expected a PolicyError, but the policy was accepted');
}

async function catchLoadError(file: string): Promise<PolicyError> {
  const error = await loadPolicy(file).then(
    () => new Error('expected a PolicyError, but the policy was accepted'),
    (caught: unknown) => caught,
  );
  if (error instanceof PolicyError) {
    return error;
  }
  throw error;
}

describe('hostile policy: field types', () => {
  it('full policy is valid', () => {
    const policy = parsePolicy('p.yaml', stringify(fullPolicy()));
    expect(policy.clients[0]!.id).toBe('web01');
  });

  // Each row: the key path, a value of the wrong type, and the path the error must name.
  it.each<[PathPart[], unknown]>([
    [['version'], '1'],
    [['version'], [1]],
    [['audit_log'], 123],
    [['audit_log'], ['/var/log/a']],
    [['state_dir'], true],
    [['borg'], 'borg'],
    [['borg', 'umask'], 77],
    [['borg', 'umask'], ['0077']],
    [['borg', 'binaries'], ['/usr/bin/borg']],
    [['borg', 'binaries', 'borg'], 1],
    [['borg', 'binaries', 'borg1'], { path: '/usr/bin/borg', major: '1' }],
    [['borg', 'binaries', 'borg1'], { path: '/usr/bin/borg', major: 3 }],
    [['checks'], 'daily'],
    [['checks', 'defaults'], []],
    [['checks', 'defaults', 'timeout'], 6],
    [['checks', 'defaults', 'lock_wait'], '10'],
    [['checks', 'defaults', 'lock_wait'], 1.5],
    [['checks', 'defaults', 'overdue_after'], true],
    [['checks', 'defaults', 'alert_command'], '/usr/bin/logger'],
    [['checks', 'defaults', 'alert_command'], [1]],
    [['checks', 'repositories'], ['/srv/borg/a']],
    [['checks', 'repositories', '/srv/borg/a'], 'yes'],
    [['checks', 'repositories', '/srv/borg/a', 'unencrypted'], 'yes'],
    [['checks', 'state_file'], 5],
    [['clients'], 'web01'],
    [['clients'], { id: 'web01' }],
    [['clients'], null],
    [['clients', 0], 'web01'],
    [['clients', 0, 'id'], 101],
    [['clients', 0, 'id'], null],
    [['clients', 0, 'keys'], KEY_A],
    [['clients', 0, 'keys', 0], 42],
    [['clients', 0, 'keys', 1], { key: 42 }],
    [['clients', 0, 'keys', 1], { key: KEY_B, expires: 20300101 }],
    [['clients', 0, 'keys', 1], { key: KEY_B, added: true }],
    [['clients', 0, 'repositories'], '/srv/borg/a'],
    [['clients', 0, 'repositories', 0], 7],
    [['clients', 0, 'repositories', 1], { path: 7 }],
    [['clients', 0, 'repositories', 1], { path: '/srv/borg/b', name: 5 }],
    [['clients', 0, 'repositories', 1], { path: '/srv/borg/b', mode: true }],
    [['clients', 0, 'repositories', 1], { path: '/srv/borg/b', storage_quota: 10 }],
    [['clients', 0, 'repositories', 1], { path: '/srv/borg/b', shared: 'yes' }],
    [['clients', 0, 'paths'], '/srv/borg/c'],
    [['clients', 0, 'paths', 0], { path: '/srv/borg/c' }],
    [['clients', 0, 'mode'], 1],
    [['clients', 0, 'mode'], ['append-only']],
    [['clients', 0, 'storage_quota'], 500],
    [['clients', 0, 'storage_quota'], '3M'],
    [['clients', 0, 'repositories', 1], { path: '/srv/borg/b', storage_quota: '9999999' }],
    [['clients', 0, 'from'], '192.0.2.0/24'],
    [['clients', 0, 'from', 0], 3221225984],
    [['clients', 0, 'expires'], 20300630],
    [['clients', 0, 'expires'], true],
    [['clients', 0, 'disabled'], 'no'],
    [['clients', 0, 'disabled'], 0],
    [['clients', 0, 'allow_check'], 1],
    [['clients', 0, 'comment'], ['web']],
  ])('%j = %j names its key path', (path, value) => {
    const error = catchPolicyError(() => parsePolicy('p.yaml', policyWith(path, value)));
    expect(error.file).toBe('p.yaml');
    expect(error.message).toMatch(/^p\.yaml: /);
    // Arrays of several entries may report the first bad entry inside `path`.
    expect(error.detail.startsWith(keyPath(path))).toBe(true);
  });
});

describe('hostile policy: unknown keys', () => {
  it.each<[PathPart[]]>([
    [[]],
    [['borg']],
    [['borg', 'binaries', 'borg1']],
    [['checks']],
    [['checks', 'defaults']],
    [['checks', 'repositories', '/srv/borg/a']],
    [['clients', 0]],
    [['clients', 0, 'keys', 1]],
    [['clients', 0, 'repositories', 1]],
  ])('%j rejects an unknown key', (path) => {
    const error = catchPolicyError(() =>
      parsePolicy('p.yaml', policyWith([...path, 'colour'], 'blue')),
    );
    const expected = path.length === 0 ? '(top level)' : keyPath(path);
    expect(error.detail.startsWith(`${expected}: `)).toBe(true);
    expect(error.detail).toContain('"colour"');
  });

  it.each([
    ['__proto__ at top level', 'version: 1\n__proto__: {polluted: 1}\nclients: []\n'],
    [
      '__proto__ in a client',
      `version: 1\nclients:\n  - id: a\n    keys: ["${KEY_A}"]\n    __proto__: {mode: read-write}\n`,
    ],
    [
      'merge key in a client',
      `version: 1\nclients:\n  - <<: {mode: read-write}\n    id: a\n    keys: ["${KEY_A}"]\n`,
    ],
  ])('%s is rejected', (_name, source) => {
    const error = catchPolicyError(() => parsePolicy('p.yaml', source));
    expect(error.message).toContain('Unrecognized key');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('collection as a key is rejected', () => {
    const error = catchPolicyError(() =>
      parsePolicy('p.yaml', 'version: 1\n? [a, b]\n: 1\nclients: []\n'),
    );
    expect(error.message).toContain('invalid YAML');
    expect(error.message).toContain('complex keys');
  });
});

describe('hostile policy: duplicates', () => {
  it.each([
    [
      'client id',
      `version: 1\nclients:\n  - {id: a, keys: ["${KEY_A}"]}\n  - {id: a, keys: ["${KEY_B}"]}\n`,
      'clients[1].id: client id "a" is already used by clients[0]',
    ],
    [
      'key under two clients',
      `version: 1\nclients:\n  - {id: a, keys: ["${KEY_A}"]}\n  - {id: b, keys: ["${KEY_A.replace('a@test', 'other')}"]}\n`,
      'clients[1].keys[0]: this key is also listed for client "a"',
    ],
    [
      'top-level YAML key',
      'version: 1\nclients: []\nversion: 1\n',
      'line 3, column 1: duplicated mapping key',
    ],
    [
      'client YAML key',
      `version: 1\nclients:\n  - id: a\n    id: b\n    keys: ["${KEY_A}"]\n`,
      'line 4, column 5: duplicated mapping key',
    ],
    [
      'binaries YAML key',
      'version: 1\nborg:\n  binaries:\n    borg: /usr/bin/borg\n    borg: /bin/sh\nclients: []\n',
      'line 5, column 5: duplicated mapping key',
    ],
  ])('%s is rejected', (_name, source, fragment) => {
    const error = catchPolicyError(() => parsePolicy('p.yaml', source));
    expect(error.message).toContain('p.yaml: ');
    expect(error.message).toContain(fragment);
  });
});

describe('hostile policy: YAML structure', () => {
  /** Builds `levels` anchors, each a sequence or mapping of ten aliases of the one before. */
  function aliasBomb(levels: number, flow: 'seq' | 'map'): string {
    const lines = ['version: 1', 'a0: &a0 [x, x, x, x, x, x, x, x, x, x]'];
    for (let level = 1; level < levels; level += 1) {
      const aliases = Array.from({ length: 10 }, (_, index) =>
        flow === 'seq' ? `*a${level - 1}` : `k${index}: *a${level - 1}`,
      );
      const body = flow === 'seq' ? `[${aliases.join(', ')}]` : `{${aliases.join(', ')}}`;
      lines.push(`a${level}: &a${level} ${body}`);
    }
    lines.push('clients: []');
    return lines.join('\n');
  }

  it.each([
    ['sequence alias bomb', aliasBomb(12, 'seq')],
    ['mapping alias bomb', aliasBomb(12, 'map')],
    [
      'many aliases of one big anchor',
      `version: 1\nbig: &big [${Array(5000).fill('x').join(', ')}]\nclients: [${Array(5000).fill('*big').join(', ')}]\n`,
    ],
  ])('%s is rejected quickly', (_name, source) => {
    const started = performance.now();
    const error = catchPolicyError(() => parsePolicy('p.yaml', source));
    expect(error.message).toContain('invalid YAML');
    expect(performance.now() - started).toBeLessThan(5000);
  });

  it.each([
    ['several documents', 'version: 1\nclients: []\n---\nversion: 1\n', '2 YAML documents'],
    [
      'deep nesting',
      `version: 1\nclients: ${'['.repeat(20_000)}${']'.repeat(20_000)}\n`,
      'invalid YAML',
    ],
    ['binary tag', 'version: 1\naudit_log: !!binary aGVsbG8=\nclients: []\n', 'audit_log'],
    ['unknown tag', 'version: 1\naudit_log: !custom /var/log/a\nclients: []\n', 'tag'],
    ['NUL byte', 'version: 1\nclients: []\n\u0000\n', 'invalid YAML'],
    ['unquoted umask', 'version: 1\nborg: {umask: 0077}\nclients: []\n', 'borg.umask'],
  ])('%s is rejected', (_name, source, fragment) => {
    const error = catchPolicyError(() => parsePolicy('p.yaml', source));
    expect(error.message).toContain(fragment);
  });

  it.each([
    ['February 30', '2027-02-30'],
    ['month 13', '2027-13-01'],
    ['hour 25', '2027-01-01T25:00:00Z'],
  ])('expiry %s is rejected', (_name, date) => {
    const error = catchPolicyError(() =>
      parsePolicy('p.yaml', policyWith(['clients', 0, 'expires'], date)),
    );
    expect(error.detail).toContain('clients[0].expires');
  });
});

describe('hostile policy: files', () => {
  let dir: string;

  beforeAll(() => {
    dir = mkdtempSync('/tmp/borg-gate-hostile-');
    chmodSync(dir, 0o755);
  });

  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  function validFile(name: string, mode = 0o644): string {
    const file = join(dir, name);
    writeFileSync(file, stringify({ ...fullPolicy(), state_dir: dir }));
    chmodSync(file, mode);
    return file;
  }

  it('70 MB file hits the size limit', async () => {
    const file = join(dir, 'huge.yaml');
    const fd = openSync(file, 'w', 0o644);
    writeSync(fd, 'version: 1\nclients: []\n');
    const padding = Buffer.alloc(1024 * 1024, '#');
    for (let index = 0; index < 70; index += 1) {
      writeSync(fd, padding);
    }
    closeSync(fd);
    const error = await catchLoadError(file);
    expect(error.file).toBe(file);
    expect(error.detail).toContain('byte limit');
  });

  it('10,000 clients load', async () => {
    const clients = Array.from({ length: 10_000 }, (_, index) => ({
      id: `host${index}`,
      keys: [`ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI${index.toString(36).padStart(8, '0')} h@test`],
      repositories: [`/srv/borg/host${index}`],
      storage_quota: '100G',
    }));
    const file = join(dir, 'many.yaml');
    writeFileSync(file, stringify({ version: 1, state_dir: dir, clients }), { mode: 0o644 });
    const loaded = await loadPolicy(file);
    expect(loaded.policy.clients).toHaveLength(10_000);
    expect(loaded.policy.clients[9999]!.id).toBe('host9999');
  }, 60_000);

  it('symlink is refused', async () => {
    const target = validFile('target.yaml');
    const link = join(dir, 'link.yaml');
    symlinkSync(target, link);
    const error = await catchLoadError(link);
    expect(error.file).toBe(link);
    expect(error.detail).toContain('symbolic link');
  });

  it('file owned by nobody is refused', async () => {
    const file = validFile('nobody.yaml');
    chownSync(file, uidOf('nobody'), 0);
    const error = await catchLoadError(file);
    expect(error.file).toBe(file);
    expect(error.detail).toContain(`owned by uid ${uidOf('nobody')}`);
  });

  it.each([
    ['group-writable', 0o664],
    ['world-writable', 0o646],
    ['both writable', 0o666],
  ])('%s file is refused', async (_name, mode) => {
    const file = validFile(`mode-${mode.toString(8)}.yaml`, mode);
    const error = await catchLoadError(file);
    expect(error.file).toBe(file);
    expect(error.detail).toContain('chmod go-w');
  });

  it('directory is refused', async () => {
    const path = join(dir, 'directory.yaml');
    mkdirSync(path);
    const error = await catchLoadError(path);
    expect(error.detail).toContain('not a regular file');
  });

  it('FIFO is refused without blocking', async () => {
    const path = join(dir, 'fifo.yaml');
    execFileSync('mkfifo', [path]);
    const outcome = await Promise.race([
      catchLoadError(path),
      new Promise<'blocked'>((resolve) => setTimeout(() => resolve('blocked'), 3000).unref()),
    ]);
    if (outcome === 'blocked') {
      // Releases the reader stuck in open(), so the worker can exit.
      closeSync(openSync(path, constants.O_WRONLY | constants.O_NONBLOCK));
    }
    expect(outcome).not.toBe('blocked');
    expect((outcome as PolicyError).detail).toContain('not a regular file');
  });

  it('missing file names the fix', async () => {
    const error = await catchLoadError(join(dir, 'absent.yaml'));
    expect(error.detail).toContain('--policy FILE');
  });

  it('valid file still loads', async () => {
    const loaded = await loadPolicy(validFile('valid.yaml'));
    expect(loaded.policy.clients[0]!.id).toBe('web01');
  });
});

function uidOf(user: string): number {
  return Number(execFileSync('id', ['-u', user], { encoding: 'utf8' }).trim());
}

/** The built CLI; `npm run build` makes it. */
const GATE = resolve('dist/borg-gate.js');

interface ServeResult {
  code: number | null;
  stdout: Buffer;
  stderr: string;
}

/** Runs `borg-gate serve` as sshd would, with a borg 1.2 client's negotiate and open on stdin. */
function runServeProcess(
  policyFile: string,
  fallbackLog: string,
  repo: string,
): Promise<ServeResult> {
  return new Promise((resolvePromise) => {
    const child = execFile(
      process.execPath,
      [GATE, 'serve', '--client', 'web01', '--policy', policyFile, '--audit-log', fallbackLog],
      {
        encoding: 'buffer',
        timeout: 30_000,
        env: {
          PATH: '/usr/bin:/bin',
          HOME: '/tmp',
          SSH_ORIGINAL_COMMAND: 'borg serve',
          SSH_CONNECTION: '127.0.0.1 40000 127.0.0.1 22',
        },
      },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : null;
        resolvePromise({ code, stdout, stderr: stderr.toString() });
      },
    );
    const open = request(2, 'open', {
      path: repo,
      create: false,
      lock_wait: 1,
      lock: true,
      exclusive: false,
      append_only: false,
      make_parent_dirs: false,
    });
    child.stdin?.end(
      Buffer.concat([pack([1, 1, 'negotiate', [{ client_version: [1, 2, 4, -1] }]]), open]),
    );
  });
}

describe.skipIf(!existsSync(GATE))('serve with a hostile policy', () => {
  let dir: string;
  let marker: string;
  let fakeBorg: string;
  let repo: string;

  beforeAll(() => {
    dir = mkdtempSync('/tmp/borg-gate-hostile-serve-');
    chmodSync(dir, 0o755);
    marker = join(dir, 'borg-started');
    repo = join(dir, 'repo');
    mkdirSync(join(dir, 'state'));
    // Stands in for borg: it records that it was started, then exits.
    fakeBorg = join(dir, 'fake-borg');
    writeFileSync(
      fakeBorg,
      `#!${process.execPath}\nrequire('node:fs').writeFileSync(${JSON.stringify(marker)}, 'started');\n`,
      { mode: 0o755 },
    );
  });

  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  /** Returns policy YAML for web01 whose only borg binary is the marker script. */
  function policyText(change?: (policy: Record<string, unknown>) => void): string {
    const policy: Record<string, unknown> = {
      version: 1,
      audit_log: join(dir, 'audit.log'),
      state_dir: join(dir, 'state'),
      borg: { binaries: { borg: fakeBorg } },
      clients: [{ id: 'web01', keys: [KEY_A], repositories: [repo], mode: 'read-write' }],
    };
    change?.(policy);
    return stringify(policy);
  }

  function writePolicy(name: string, text: string, mode = 0o644): string {
    const file = join(dir, name);
    writeFileSync(file, text);
    chmodSync(file, mode);
    return file;
  }

  it('valid policy starts borg', async () => {
    rmSync(marker, { force: true });
    const file = writePolicy('valid.yaml', policyText());
    const result = await runServeProcess(file, join(dir, 'fallback-valid.log'), repo);
    expect(result.stderr).toBe('');
    expect(existsSync(marker)).toBe(true);
  });

  it.each<[string, () => string]>([
    [
      'wrong type',
      () =>
        writePolicy(
          'type.yaml',
          policyText((p) => {
            p.clients = 'web01';
          }),
        ),
    ],
    [
      'unknown key',
      () =>
        writePolicy(
          'key.yaml',
          policyText((p) => {
            p.colour = 'blue';
          }),
        ),
    ],
    ['invalid YAML', () => writePolicy('yaml.yaml', `${policyText()}\n  : [\n`)],
    [
      'duplicate id',
      () =>
        writePolicy(
          'dup.yaml',
          policyText((p) => {
            const clients = p.clients as Array<Record<string, unknown>>;
            clients.push({ ...clients[0], keys: [KEY_B] });
          }),
        ),
    ],
    ['group-writable', () => writePolicy('writable.yaml', policyText(), 0o664)],
    [
      'symlink',
      () => {
        const target = writePolicy('target.yaml', policyText());
        const link = join(dir, 'link.yaml');
        symlinkSync(target, link);
        return link;
      },
    ],
    [
      'owned by nobody',
      () => {
        const file = writePolicy('nobody.yaml', policyText());
        chownSync(file, uidOf('nobody'), 0);
        return file;
      },
    ],
  ])('%s: serve refuses and starts nothing', async (name, makeFile) => {
    rmSync(marker, { force: true });
    const file = makeFile();
    const fallback = join(dir, `fallback-${name.replaceAll(' ', '-')}.log`);
    const result = await runServeProcess(file, fallback, repo);
    expect(result.code).not.toBe(0);
    expect(result.code).not.toBeNull();
    expect(existsSync(marker)).toBe(false);
    // The refusal travels inside borg's protocol; it never names the policy file.
    expect(result.stdout.toString('latin1')).toContain(
      'borg-gate: the server access policy is unavailable',
    );
    expect(result.stdout.toString('latin1')).not.toContain(file);
    expect(result.stderr).not.toContain(file);
    const records = readFileSync(fallback, 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    expect(records).toHaveLength(1);
    expect(records[0].event).toBe('session_refused');
    expect(records[0].reason).toMatch(/^policy-unavailable: /);
  });
});

describe('hostile policy: wrong type of a present key', () => {
  it('says invalid, not missing', () => {
    const error = catchPolicyError(() =>
      parsePolicy('p.yaml', policyWith(['clients', 0, 'storage_quota'], 10000000)),
    );
    expect(error.detail).toContain('invalid (expected string, received number)');
    expect(error.detail).not.toContain('missing');
  });
});

describe('hostile policy: storage quota below borg minimum', () => {
  it('names the value and the minimum', () => {
    const error = catchPolicyError(() =>
      parsePolicy('p.yaml', policyWith(['clients', 0, 'storage_quota'], '3M')),
    );
    expect(error.detail).toContain('storage_quota "3M" is below borg\'s minimum of 10M');
  });
});
