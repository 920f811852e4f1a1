import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PolicyError } from '../../../src/lib/policy/errors.js';
import { loadPolicy, parsePolicy, policyFileFrom } from '../../../src/lib/policy/load.js';

const KEY_A =
  'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJZ3sQ1lk1FGy0vU7uJYkUtlN3kN5sMLb6JqvU8bZ3Xk a@test';
const KEY_B =
  'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIH0Q9mD3dC4KqOeUeZMuy7Zc5H6Vw5J1h8cuHq2vNfPb b@test';

function policyWith(client: string, top = ''): string {
  return `version: 1\n${top}clients:\n  - id: web01\n    keys: ["${KEY_A}"]\n${client}`;
}

describe('policyFileFrom', () => {
  it('removes dot segments as text', () => {
    expect(policyFileFrom('./etc-link/../conf/policy.yaml', {})).toBe(
      join(process.cwd(), 'conf', 'policy.yaml'),
    );
  });

  it('falls back to the environment, then the default', () => {
    expect(policyFileFrom(undefined, { BORG_GATE_POLICY: '/srv/p.yaml' })).toBe('/srv/p.yaml');
    expect(policyFileFrom(undefined, {})).toBe('/etc/borg-gate/policy.yaml');
  });
});

describe('parsePolicy', () => {
  it('applies defaults', () => {
    const policy = parsePolicy('p.yaml', policyWith('    repositories: [/srv/borg/web01]\n'));
    const client = policy.clients[0]!;
    expect(client.mode).toBe('append-only');
    expect(client.disabled).toBe(false);
    expect(policy.audit_log).toBe('/var/log/borg-gate/audit.log');
    expect(policy.borg.binaries).toEqual({ borg: '/usr/bin/borg' });
    expect(policy.borg.umask).toBe('0077');
  });

  it.each([
    ['2029-06-30T12:00:00', '2029-06-30T12:00:00.000Z'],
    ['2029-06-30 12:00:00', '2029-06-30T12:00:00.000Z'],
    ['2029-06-30T12:00', '2029-06-30T12:00:00.000Z'],
    ['2029-06-30 12:00:00 +02:00', '2029-06-30T10:00:00.000Z'],
    ['2029-06-30T12:00:00+0200', '2029-06-30T10:00:00.000Z'],
    ['2029-06-30T12:00:00.5Z', '2029-06-30T12:00:00.500Z'],
    ['2029-06-30t12:00:00z', '2029-06-30T12:00:00.000Z'],
  ])('reads expiry %s the same in every TZ', (text, iso) => {
    const saved = process.env.TZ;
    try {
      for (const zone of ['UTC', 'America/New_York', 'Asia/Kolkata']) {
        process.env.TZ = zone;
        const policy = parsePolicy('p.yaml', policyWith(`    expires: "${text}"\n`));
        expect(policy.clients[0]!.expires?.toISOString(), zone).toBe(iso);
      }
    } finally {
      process.env.TZ = saved;
    }
  });

  it('names a bad key expiry', () => {
    const source = `version: 1\nclients:\n  - id: a\n    keys: [{key: "${KEY_A}", expires: soon}]\n`;
    const error = catchPolicyError(() => parsePolicy('p.yaml', source));
    expect(error.message).toContain('clients[0].keys[0].expires');
    expect(error.message).toContain('"soon" is not a date');
  });

  it('reads date-only expiry as start of day UTC', () => {
    const policy = parsePolicy('p.yaml', policyWith('    expires: 2027-01-15\n'));
    expect(policy.clients[0]!.expires?.toISOString()).toBe('2027-01-15T00:00:00.000Z');
  });

  it.each([
    [
      'relative repository',
      '    repositories: [srv/a]\n',
      'clients[0].repositories[0]',
      'relative',
    ],
    [
      'dot-dot repository',
      '    repositories: [/srv/a/../b]\n',
      'clients[0].repositories[0]',
      '".."',
    ],
    [
      'trailing slash',
      '    repositories: [/srv/a/]\n',
      'clients[0].repositories[0]',
      'write "/srv/a"',
    ],
    ['double slash', '    paths: [/srv//a]\n', 'clients[0].paths[0]', 'not normalized'],
    ['unknown mode', '    mode: sideways\n', 'clients[0].mode', ''],
    ['unknown key', '    colour: blue\n', 'clients[0]', 'colour'],
    ['bad quota', '    storage_quota: lots\n', 'clients[0].storage_quota', 'borg size syntax'],
    ['bad cidr', '    from: [10.0.0.0/33]\n', 'clients[0].from[0]', 'CIDR'],
    [
      'zero-padded address',
      '    from: ["192.0.2.1", "192.168.001.010"]\n',
      'clients[0].from[1]',
      'others as decimal (192.168.1.10)',
    ],
    [
      'IPv4-mapped range',
      '    from: ["::ffff:192.0.2.0/120"]\n',
      'clients[0].from[0]',
      'write 192.0.2.0/24 instead',
    ],
    ['bad date', '    expires: soon\n', 'clients[0].expires', 'YYYY-MM-DD'],
    ['string disabled', '    disabled: "no"\n', 'clients[0].disabled', ''],
    [
      'per-repository mode',
      '    repositories: [{path: /srv/a, mode: rw}]\n',
      'clients[0].repositories[0]',
      '',
    ],
  ])('%s names its key path', (_name, client, path, fragment) => {
    const error = catchPolicyError(() => parsePolicy('p.yaml', policyWith(client)));
    expect(error.message).toContain(`p.yaml: ${path}`);
    expect(error.message).toContain(fragment);
  });

  it.each([
    ['bad id', 'version: 1\nclients:\n  - id: "web 01"\n    keys: [x]\n', 'clients[0].id'],
    ['no keys', 'version: 1\nclients:\n  - id: web01\n    keys: []\n', 'clients[0].keys'],
    ['wrong version', 'version: 2\nclients: []\n', 'version'],
    ['relative audit log', 'version: 1\naudit_log: audit.log\nclients: []\n', 'audit_log'],
    ['unknown top-level key', 'version: 1\nclients: []\nclient: []\n', '(top level)'],
    [
      'relative binary',
      'version: 1\nborg: {binaries: {borg: borg}}\nclients: []\n',
      'borg.binaries.borg',
    ],
  ])('%s is rejected', (_name, source, path) => {
    expect(catchPolicyError(() => parsePolicy('p.yaml', source)).message).toContain(path);
  });

  it('rejects a duplicate client id', () => {
    const source = `version: 1\nclients:\n  - {id: a, keys: ["${KEY_A}"]}\n  - {id: a, keys: ["${KEY_B}"]}\n`;
    expect(catchPolicyError(() => parsePolicy('p.yaml', source)).message).toContain(
      'clients[1].id',
    );
  });

  it('rejects one key under two clients', () => {
    const source = `version: 1\nclients:\n  - {id: a, keys: ["${KEY_A}"]}\n  - {id: b, keys: ["${KEY_A.replace('a@test', 'other comment')}"]}\n`;
    const error = catchPolicyError(() => parsePolicy('p.yaml', source));
    expect(error.message).toContain('clients[1].keys[0]');
    expect(error.message).toContain('"a"');
  });

  it.each([
    ['the root directory', 'paths: [/]', 'clients[0].paths[0]', 'the audit log directory'],
    ['the audit log directory', 'paths: [/var/log/borg-gate]', 'clients[0].paths[0]', 'audit log'],
    ['state_dir', 'paths: [/var/lib]', 'clients[0].paths[0]', 'state_dir'],
    [
      'the policy directory',
      'repositories: [/etc/gate]',
      'clients[0].repositories[0]',
      'policy directory',
    ],
  ])('rejects a grant over %s', (_name, grant, path, label) => {
    const source = `version: 1\nclients:\n  - {id: a, keys: ["${KEY_A}"], ${grant}}\n`;
    const error = catchPolicyError(() => parsePolicy('/etc/gate/policy.yaml', source));
    expect(error.message).toContain(path);
    expect(error.message).toContain(label);
  });

  it.each([
    ['the audit log lock', 'repositories: [/var/log/borg-gate/audit.log.lock]'],
    ['a rotated audit log', 'paths: [/var/log/borg-gate/audit.log.1]'],
    ['state_dir contents', 'repositories: [/var/lib/borg-gate/repo]'],
    ['the policy lock', 'repositories: [/etc/gate/policy.yaml.lock]'],
  ])('rejects a grant on %s', (_name, grant) => {
    const source = `version: 1\nclients:\n  - {id: a, keys: ["${KEY_A}"], ${grant}}\n`;
    const error = catchPolicyError(() => parsePolicy('/etc/gate/policy.yaml', source));
    expect(error.message).toContain('clients[0]');
    expect(error.message).toContain('or the files borg-gate keeps there');
  });

  it('allows other directories next to the audit log', () => {
    const source = `version: 1\nclients:\n  - {id: a, keys: ["${KEY_A}"], paths: [/var/log/borg-gate/repos]}\n`;
    expect(parsePolicy('/etc/gate/policy.yaml', source).clients).toHaveLength(1);
  });

  it('follows a dangling state_dir symlink', () => {
    const dir = mkdtempSync('/tmp/borg-gate-grant-');
    try {
      symlinkSync(join(dir, 'grant', 'state'), join(dir, 'st'));
      const source = `version: 1\nstate_dir: ${dir}/st\nclients:\n  - {id: a, keys: ["${KEY_A}"], paths: [${dir}/grant]}\n`;
      const error = catchPolicyError(() => parsePolicy('/etc/gate/policy.yaml', source));
      expect(error.message).toContain('state_dir');
      expect(error.message).toContain(`${dir}/grant/state`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('rejects a grant over the policy directory through a symlink', () => {
    const dir = mkdtempSync('/tmp/borg-gate-grant-');
    try {
      mkdirSync(join(dir, 'real', 'etc'), { recursive: true });
      symlinkSync(join(dir, 'real', 'etc'), join(dir, 'etc-link'));
      const source = `version: 1\nclients:\n  - {id: a, keys: ["${KEY_A}"], paths: [${dir}/real]}\n`;
      for (const file of [`${dir}/etc-link/p.yaml`, `${dir}/etc-link/missing/p.yaml`]) {
        const error = catchPolicyError(() => parsePolicy(file, source));
        expect(error.message, file).toContain('the policy directory');
        expect(error.message, file).toContain(`${dir}/real/etc`);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('rejects a duplicate YAML key', () => {
    const source = 'version: 1\nclients: []\nclients: []\n';
    expect(catchPolicyError(() => parsePolicy('p.yaml', source)).message).toContain('invalid YAML');
  });

  it('rejects an alias bomb', () => {
    const lines = ['version: 1', 'a0: &a0 [x, x, x, x, x, x, x, x, x, x]'];
    for (let level = 1; level < 12; level += 1) {
      lines.push(
        `a${level}: &a${level} [${Array(10)
          .fill(`*a${level - 1}`)
          .join(', ')}]`,
      );
    }
    lines.push('clients: []');
    expect(catchPolicyError(() => parsePolicy('p.yaml', lines.join('\n'))).message).toContain(
      'invalid YAML',
    );
  });
});

describe('loadPolicy', () => {
  let dir: string;

  beforeAll(() => {
    dir = mkdtempSync('/tmp/borg-gate-policy-');
  });

  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('loads a valid file', async () => {
    const file = join(dir, 'ok.yaml');
    writeFileSync(file, policyWith(''), { mode: 0o644 });
    const loaded = await loadPolicy(file);
    expect(loaded.policy.clients[0]!.id).toBe('web01');
  });

  it('reports a missing file with the fix', async () => {
    const error = await loadPolicy(join(dir, 'absent.yaml')).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(PolicyError);
    expect((error as Error).message).toContain('--policy FILE');
  });

  it('refuses a symlinked policy', async () => {
    const target = join(dir, 'target.yaml');
    writeFileSync(target, policyWith(''), { mode: 0o644 });
    symlinkSync(target, join(dir, 'link.yaml'));
    const error = await loadPolicy(join(dir, 'link.yaml')).catch((caught: unknown) => caught);
    expect((error as Error).message).toContain('symbolic link');
  });

  it('refuses a group-writable policy', async () => {
    const file = join(dir, 'writable.yaml');
    writeFileSync(file, policyWith(''));
    chmodSync(file, 0o664);
    const error = await loadPolicy(file).catch((caught: unknown) => caught);
    expect((error as Error).message).toContain('chmod go-w');
  });
});

function catchPolicyError(action: () => unknown): PolicyError {
  try {
    action();
  } catch (error) {
    if (error instanceof PolicyError) {
      return error;
    }
    throw error;
  }
  throw new Error('expected a PolicyError');
}
