import { chmodSync, chownSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Protection, Report } from '../../../src/lib/doctor/report.js';
import { reportSchema } from '../../../src/lib/doctor/report.js';
import { runDoctor } from '../../../src/lib/doctor/run.js';
import {
  createFixture,
  type DoctorFixture,
  gateLine,
  HARDENED_SSHD,
  writeAuditRecords,
} from './fixtures.js';

const DAY_MS = 86_400_000;

function row(report: Report, id: string): Protection {
  const found = report.protections.find((protection) => protection.id === id);
  expect(found, `row ${id}`).toBeDefined();
  return found!;
}

describe('append-only row', () => {
  let fixture: DoctorFixture;
  let report: Report;

  beforeAll(async () => {
    fixture = createFixture('append');
    const plain = fixture.init('web1', 'repokey');
    const appendOnly = fixture.init('db1', 'repokey', { appendOnly: true });
    const open = fixture.init('mail1', 'repokey');
    fixture.writePolicy({
      clients: [
        { id: 'web1', keys: [fixture.key('web1')], repositories: [plain] },
        { id: 'db1', keys: [fixture.key('db1')], repositories: [appendOnly], mode: 'read-write' },
        { id: 'mail1', keys: [fixture.key('mail1')], repositories: [open], mode: 'read-write' },
      ],
    });
    report = (await runDoctor(fixture.options())).report;
  });

  afterAll(() => fixture.remove());

  it('flags read-write without repo append_only', () => {
    const protection = row(report, 'append-only');
    expect(protection.status).toBe('partial');
    expect(protection.findings).toHaveLength(1);
    expect(protection.clients).toEqual(['mail1']);
    expect(protection.repositories).toEqual([join(fixture.dir, 'repos', 'mail1')]);
  });

  it('accepts repository append_only = 1', () => {
    expect(row(report, 'append-only').clients).not.toContain('db1');
  });

  it('report validates against its schema', () => {
    expect(reportSchema.safeParse(report).success).toBe(true);
  });
});

describe('append-only row without protected writers', () => {
  it('is missing when no writer is append-only', async () => {
    const fixture = createFixture('append-none');
    try {
      const open = fixture.init('only', 'repokey');
      fixture.writePolicy({
        clients: [
          { id: 'only', keys: [fixture.key('only')], repositories: [open], mode: 'read-write' },
        ],
      });
      const { report } = await runDoctor(fixture.options());
      expect(row(report, 'append-only').status).toBe('missing');
    } finally {
      fixture.remove();
    }
  });
});

describe('read-only row', () => {
  let fixture: DoctorFixture;
  let report: Report;
  const now = new Date('2026-06-01T00:00:00Z');

  beforeAll(async () => {
    fixture = createFixture('idle');
    const repo = fixture.init('shared-ro', 'repokey');
    fixture.writePolicy({
      clients: [
        { id: 'busy', keys: [fixture.key('busy')], paths: [join(fixture.dir, 'busy')] },
        { id: 'idle', keys: [fixture.key('idle')], paths: [join(fixture.dir, 'idle')] },
        { id: 'never', keys: [fixture.key('never')], paths: [join(fixture.dir, 'never')] },
        { id: 'monitor', keys: [fixture.key('monitor')], repositories: [repo], mode: 'read-only' },
      ],
    });
    const at = (days: number) => new Date(now.getTime() - days * DAY_MS).toISOString();
    writeAuditRecords(fixture.auditLog, [
      { time: at(90), event: 'session_start', client_id: 'busy' },
      { time: at(40), event: 'session_end', client_id: 'idle', rpc: { commit: true } },
      { time: at(2), event: 'session_end', client_id: 'busy', rpc: { commit: true } },
      { time: at(1), event: 'session_end', client_id: 'idle', rpc: { commit: false } },
      { time: at(1), event: 'session_end', client_id: 'monitor', rpc: { commit: false } },
    ]);
    report = (await runDoctor(fixture.options({ now }))).report;
  });

  afterAll(() => fixture.remove());

  it('flags idle and never-writing clients', () => {
    const protection = row(report, 'read-only');
    expect(protection.status).toBe('partial');
    expect(protection.clients).toEqual(['idle', 'never']);
  });

  it('honours --idle-days', async () => {
    const { report: longer } = await runDoctor(fixture.options({ now, idleDays: 60 }));
    expect(row(longer, 'read-only').clients).toEqual(['never']);
  });

  it('skips never-writing clients on short history', async () => {
    const { report: short } = await runDoctor(fixture.options({ now, idleDays: 120 }));
    expect(row(short, 'read-only').status).toBe('implemented');
  });
});

describe('restriction and separate-keys rows', () => {
  let fixture: DoctorFixture;
  let report: Report;
  let repos: Record<string, string>;

  beforeAll(async () => {
    fixture = createFixture('restrict');
    repos = {
      alpha: fixture.init('alpha', 'repokey'),
      beta: fixture.init('beta', 'repokey'),
      team: fixture.init('team', 'repokey'),
      pair: fixture.init('pair', 'repokey'),
      copy: join(fixture.dir, 'repos', 'copy'),
    };
    // A copied repository keeps its id and its repokey.
    const { cpSync } = await import('node:fs');
    cpSync(repos.alpha!, repos.copy!, { recursive: true });
    fixture.writePolicy({
      clients: [
        { id: 'alpha', keys: [fixture.key('alpha')], repositories: [repos.alpha] },
        { id: 'beta', keys: [fixture.key('beta')], repositories: [repos.beta, repos.copy] },
        { id: 'wide', keys: [fixture.key('wide')], paths: [join(fixture.dir, 'repos')] },
        { id: 'nothing', keys: [fixture.key('nothing')] },
        { id: 't1', keys: [fixture.key('t1')], repositories: [{ path: repos.team, shared: true }] },
        { id: 't2', keys: [fixture.key('t2')], repositories: [{ path: repos.team, shared: true }] },
        { id: 'p1', keys: [fixture.key('p1')], repositories: [repos.pair] },
        { id: 'p2', keys: [fixture.key('p2')], repositories: [repos.pair] },
        { id: 'outer', keys: [fixture.key('outer')], paths: [join(fixture.dir, 'nest')] },
        { id: 'inner', keys: [fixture.key('inner')], paths: [join(fixture.dir, 'nest', 'in')] },
        { id: 'twin1', keys: [fixture.key('twin1')], paths: [join(fixture.dir, 'twin')] },
        { id: 'twin2', keys: [fixture.key('twin2')], paths: [join(fixture.dir, 'twin')] },
      ],
    });
    report = (await runDoctor(fixture.options())).report;
  });

  afterAll(() => fixture.remove());

  it('flags a parent path of other repositories', () => {
    const protection = row(report, 'restriction');
    expect(protection.status).toBe('missing');
    const parent = protection.findings.filter((item) => item.detail.includes('parent path'));
    expect(parent).toHaveLength(5);
    expect(parent.every((item) => item.clients.includes('wide'))).toBe(true);
  });

  it('flags nested and shared paths', () => {
    const protection = row(report, 'restriction');
    const overlaps = protection.findings.filter((item) => item.detail.includes('overlap'));
    expect(overlaps.map((item) => item.repositories[0])).toEqual([
      join(fixture.dir, 'nest', 'in'),
      join(fixture.dir, 'twin'),
    ]);
    expect(overlaps[0]!.clients).toEqual(['inner', 'outer']);
    expect(overlaps[1]!.clients).toEqual(['twin1', 'twin2']);
  });

  it('flags a client without grants', () => {
    const protection = row(report, 'restriction');
    const empty = protection.findings.find((item) => item.clients.join() === 'nothing');
    expect(empty?.status).toBe('partial');
  });

  it('flags writable sharing without shared flag', () => {
    const protection = row(report, 'restriction');
    const shared = protection.findings.filter((item) => item.detail.includes('writable by'));
    expect(shared).toHaveLength(1);
    expect(shared[0]!.clients).toEqual(['p1', 'p2']);
  });

  it('flags a repository reachable by two machines', () => {
    const protection = row(report, 'separate-keys');
    const reachable = protection.findings.filter((item) => item.detail.includes('reachable'));
    expect(reachable.map((item) => item.repositories)).toEqual([[repos.pair]]);
  });

  it('flags copied borg key material', () => {
    const protection = row(report, 'separate-keys');
    const copies = protection.findings.filter((item) => item.status === 'missing');
    expect(copies).toHaveLength(1);
    expect(copies[0]!.repositories).toEqual([repos.alpha, repos.copy].sort());
  });

  it('flags a repokey pasted into another repository', async () => {
    const config = join(repos.beta!, 'config');
    const keyLines = readFileSync(join(repos.alpha!, 'config'), 'utf8').split('\nkey = ')[1]!;
    const betaText = readFileSync(config, 'utf8').split('\nkey = ')[0]!;
    writeFileSync(config, `${betaText}\nkey = ${keyLines}`);
    const { report: pasted } = await runDoctor(fixture.options());
    const sameKey = row(pasted, 'separate-keys').findings.filter((item) =>
      item.detail.includes('same borg repokey'),
    );
    expect(sameKey).toHaveLength(1);
    expect(sameKey[0]!.repositories).toEqual([repos.alpha, repos.beta, repos.copy].sort());
  });
});

describe('passphrase row', () => {
  let fixture: DoctorFixture;
  let report: Report;
  let repos: Record<string, string>;

  beforeAll(async () => {
    fixture = createFixture('pass');
    repos = {
      plain: fixture.init('plain', 'none'),
      signed: fixture.init('signed', 'authenticated'),
      sealed: fixture.init('sealed', 'repokey-blake2'),
      local: fixture.init('local', 'keyfile'),
    };
    const good = join(fixture.dir, 'good.pass');
    const loose = join(fixture.dir, 'loose.pass');
    writeFileSync(good, 'secret\n', { mode: 0o600 });
    writeFileSync(loose, 'secret\n');
    chmodSync(loose, 0o644);
    writeFileSync(
      join(fixture.systemdDir, 'borg-prune.service'),
      '[Service]\nEnvironment=BORG_PASSPHRASE=hunter2\nExecStart=/usr/bin/borg prune\n',
    );
    const dropIns = join(fixture.systemdDir, 'borg-create.service.d');
    mkdirSync(dropIns);
    writeFileSync(join(dropIns, 'secret.conf'), '[Service]\nEnvironment=A=1 BORG_PASSPHRASE=x\n');
    writeFileSync(join(dropIns, 'ignored.txt'), 'Environment=BORG_PASSPHRASE=x\n');
    const privateEnv = join(fixture.dir, 'private.env');
    writeFileSync(privateEnv, 'BORG_PASSPHRASE=hunter2\n', { mode: 0o600 });
    writeFileSync(
      join(fixture.systemdDir, 'borg-safe.service'),
      `[Service]\nEnvironmentFile=${privateEnv}\nEnvironment=BORG_PASSCOMMAND=/bin/true\n`,
    );
    const envFile = join(fixture.dir, 'borg.env');
    writeFileSync(envFile, 'BORG_PASSPHRASE=hunter2\n');
    chmodSync(envFile, 0o644);
    writeFileSync(
      join(fixture.systemdDir, 'borg-check.service'),
      `[Service]\nEnvironmentFile=-${envFile}\n`,
    );
    fixture.writePolicy({
      clients: [
        {
          id: 'c1',
          keys: [fixture.key('c1')],
          repositories: [repos.plain, repos.signed, repos.sealed, repos.local],
        },
      ],
      checks: {
        repositories: {
          [repos.sealed!]: { passphrase_file: good },
          [repos.local!]: { passphrase_file: loose },
          [repos.signed!]: { passphrase_file: join(fixture.dir, 'absent.pass') },
        },
      },
    });
    report = (await runDoctor(fixture.options())).report;
  });

  afterAll(() => fixture.remove());

  it('flags the -e none repository as missing', () => {
    const protection = row(report, 'passphrase');
    const unencrypted = protection.findings.find((item) => item.detail.startsWith('unencrypted'));
    expect(unencrypted?.status).toBe('missing');
    expect(unencrypted?.repositories).toEqual([repos.plain]);
  });

  it('flags authenticated-only as partial', () => {
    const protection = row(report, 'passphrase');
    const signed = protection.findings.find((item) => item.detail.includes('authenticated'));
    expect(signed?.status).toBe('partial');
    expect(signed?.repositories).toEqual([repos.signed]);
  });

  it('flags loose and absent passphrase files', () => {
    const files = row(report, 'passphrase').findings.filter((item) =>
      item.detail.startsWith('passphrase file'),
    );
    expect(files.map((item) => item.repositories[0]).sort()).toEqual(
      [repos.local, repos.signed].sort(),
    );
    expect(files.some((item) => item.detail.includes('0644'))).toBe(true);
  });

  it('flags unit Environment= and env files', () => {
    const details = row(report, 'passphrase').findings.map((item) => item.detail);
    expect(details.some((text) => text.includes('borg-prune.service'))).toBe(true);
    expect(details.some((text) => text.includes('borg.env'))).toBe(true);
    expect(details.some((text) => text.includes('secret.conf'))).toBe(true);
  });

  it('ignores private env files and other names', () => {
    const details = row(report, 'passphrase')
      .findings.map((item) => item.detail)
      .join('\n');
    expect(details).not.toContain('private.env');
    expect(details).not.toContain('borg-safe.service');
    expect(details).not.toContain('ignored.txt');
  });
});

describe('key-rotation row', () => {
  let fixture: DoctorFixture;
  let repo: string;
  const start = new Date('2026-01-01T00:00:00Z');

  beforeAll(() => {
    fixture = createFixture('rotate');
    repo = fixture.init('aging', 'repokey');
    fixture.writePolicy({
      clients: [
        {
          id: 'old',
          keys: [{ key: fixture.key('old'), added: '2024-01-01' }],
          repositories: [repo],
        },
        { id: 'fresh', keys: [fixture.key('fresh')], paths: [join(fixture.dir, 'fresh')] },
      ],
    });
  });

  afterAll(() => fixture.remove());

  it('ages keys from added and first sight', async () => {
    const { report: first } = await runDoctor(fixture.options({ now: start }));
    expect(row(first, 'key-rotation').clients).toEqual(['old']);
    const later = new Date(start.getTime() + 400 * DAY_MS);
    const { report: second } = await runDoctor(fixture.options({ now: later }));
    const protection = row(second, 'key-rotation');
    expect(protection.clients).toEqual(['fresh', 'old']);
    expect(protection.repositories).toEqual([repo]);
  });

  it('resets repokey age after a key change', async () => {
    const env = { PATH: '/usr/bin:/bin', HOME: fixture.dir, BORG_BASE_DIR: join(fixture.dir, 'b') };
    const { execFileSync } = await import('node:child_process');
    execFileSync('borg', ['key', 'change-passphrase', repo], {
      env: { ...env, BORG_PASSPHRASE: 'doctor fixture passphrase', BORG_NEW_PASSPHRASE: 'new one' },
      stdio: 'pipe',
    });
    const later = new Date(start.getTime() + 500 * DAY_MS);
    const { report } = await runDoctor(fixture.options({ now: later }));
    expect(row(report, 'key-rotation').repositories).toEqual([]);
    const state = JSON.parse(readFileSync(join(fixture.stateDir, 'doctor-state.json'), 'utf8'));
    expect(state.repositories[repo].since).toBe(later.toISOString());
  });
});

describe('verification row', () => {
  let fixture: DoctorFixture;
  let repos: Record<string, string>;
  const now = new Date('2026-03-01T00:00:00Z');

  beforeAll(() => {
    fixture = createFixture('verify');
    repos = {
      checked: fixture.init('checked', 'repokey'),
      stale: fixture.init('stale', 'repokey'),
      fresh: fixture.init('fresh', 'repokey'),
      skipped: fixture.init('skipped', 'repokey'),
    };
    const pass = join(fixture.dir, 'pass');
    writeFileSync(pass, 'doctor fixture passphrase\n', { mode: 0o600 });
    fixture.writePolicy({
      clients: [{ id: 'c1', keys: [fixture.key('c1')], repositories: Object.values(repos) }],
      checks: {
        repositories: {
          [repos.checked!]: { passphrase_file: pass },
          [repos.stale!]: { passphrase_file: pass },
          [repos.skipped!]: { disabled: true },
        },
      },
    });
    const at = (days: number) => new Date(now.getTime() - days * DAY_MS).toISOString();
    const record = (days: number) => ({
      first_seen: at(100),
      last_run: at(days),
      last_success: at(days),
      outcome: 'ok',
    });
    writeFileSync(
      join(fixture.stateDir, 'check-state.json'),
      JSON.stringify({
        version: 1,
        repositories: {
          [repos.checked!]: { repository_only: record(1), verify_data: record(3) },
          [repos.stale!]: { repository_only: record(20), verify_data: record(3) },
        },
      }),
      { mode: 0o600 },
    );
  });

  afterAll(() => fixture.remove());

  it('reports never-checked, stale and passphrase-less', async () => {
    const { report } = await runDoctor(fixture.options({ now }));
    const protection = row(report, 'verification');
    expect(protection.status).toBe('missing');
    const byDetail = (text: string) =>
      protection.findings
        .filter((item) => item.detail.includes(text))
        .map((item) => item.repositories);
    expect(byDetail('no successful borg check --repository-only')).toEqual([[repos.fresh]]);
    expect(byDetail('older than its interval')).toEqual([[repos.stale]]);
    expect(byDetail('cannot run without a passphrase')).toEqual([[repos.fresh]]);
    expect(byDetail('checks are disabled')).toEqual([[repos.skipped]]);
  });
});

describe('ssh-hardening row', () => {
  let fixture: DoctorFixture;
  let report: Report;
  const now = new Date();

  beforeAll(async () => {
    fixture = createFixture('ssh');
    const repo = fixture.init('s1', 'repokey');
    const soon = new Date(now.getTime() + 5 * DAY_MS).toISOString();
    fixture.writePolicy({
      clients: [
        { id: 's1', keys: [fixture.key('s1')], repositories: [repo] },
        {
          id: 's2',
          keys: [{ key: fixture.key('s2'), expires: soon }],
          paths: [join(fixture.dir, 's2')],
        },
      ],
    });
    fixture.writeSshdConfig(['PasswordAuthentication yes', 'X11Forwarding no', 'PermitTTY no']);
    writeFileSync(
      fixture.authorizedKeys,
      [
        gateLine('s1', fixture.key('s1'), fixture.policyFile),
        `command="/usr/local/bin/borg-gate serve --client s1" ${fixture.key('s2')}`,
        `restrict ${fixture.key('stranger')}`,
        gateLine('s1', fixture.key('s1'), fixture.policyFile),
        '',
      ].join('\n'),
    );
    chmodSync(fixture.authorizedKeys, 0o644);
    // Owned by the account, 0644 is loose; owned by root it is the recommended setup.
    chownSync(fixture.authorizedKeys, 65534, 65534);
    chmodSync(fixture.policyFile, 0o664);
    chmodSync(fixture.stateDir, 0o777);
    writeFileSync(fixture.auditLog, '', { mode: 0o666 });
    chmodSync(fixture.auditLog, 0o666);
    report = (await runDoctor(fixture.options({ now }))).report;
  });

  afterAll(() => fixture.remove());

  const details = () => row(report, 'ssh-hardening').findings.map((item) => item.detail);

  it('reads sshd -T settings', () => {
    const text = details().join('\n');
    expect(text).toContain('passwordauthentication is yes');
    expect(text).toContain('allowtcpforwarding is yes');
    expect(text).toContain('exposeauthinfo is no');
    expect(text).not.toContain('x11forwarding');
  });

  it('flags unrestricted and ungated lines', () => {
    const text = details().join('\n');
    expect(text).toMatch(/without the restrict option: 2\b/);
    expect(text).toMatch(/not borg-gate serve: 3\b/);
  });

  it('flags a key repeated on a later line', () => {
    expect(details().some((text) => text.includes('never uses: lines 4'))).toBe(true);
  });

  it('flags a key bound to another client', () => {
    expect(details().some((text) => text.includes('--client s1, policy s2'))).toBe(true);
  });

  it('asks to delete outside lines by hand', () => {
    const findings = row(report, 'ssh-hardening').findings;
    const mismatched = findings.find((item) => item.detail.includes('--client differs'));
    expect(mismatched?.fix).toContain(`Delete lines 2 of ${fixture.authorizedKeys} by hand`);
    expect(mismatched?.fix).toContain('`borg-gate keys add`');
    const repeated = findings.find((item) => item.detail.includes('never uses'));
    expect(repeated?.fix).toContain('Delete lines 1, 4 of');
  });

  it('flags keys expiring soon', () => {
    const item = row(report, 'ssh-hardening').findings.find((entry) =>
      entry.detail.includes('expires within'),
    );
    expect(item?.clients).toEqual(['s2']);
  });

  it('flags file modes', () => {
    const text = details().join('\n');
    expect(text).toContain('mode 0664: group or others can write it');
    expect(text).toContain('mode 0644 instead of 0600');
    expect(text).toContain('mode 0666: others can write it');
    expect(text).toContain('mode 0777: others can replace its files');
  });

  it('is missing overall', () => {
    expect(row(report, 'ssh-hardening').status).toBe('missing');
  });
});

describe('lines inside a managed block', () => {
  it('keep the keys write fix', async () => {
    const fixture = createFixture('block');
    try {
      fixture.writePolicy({
        clients: [
          { id: 'm1', keys: [fixture.key('m1')], paths: [join(fixture.dir, 'm1')] },
          { id: 'm2', keys: [fixture.key('m2')], paths: [join(fixture.dir, 'm2')] },
        ],
      });
      writeFileSync(
        fixture.authorizedKeys,
        [
          '# BEGIN borg-gate managed block default',
          gateLine('m1', fixture.key('m2'), fixture.policyFile),
          '# END borg-gate managed block default',
          gateLine('m1', fixture.key('m1'), fixture.policyFile),
          '',
        ].join('\n'),
      );
      const { report } = await runDoctor(fixture.options());
      const mismatched = row(report, 'ssh-hardening').findings.find((item) =>
        item.detail.includes('--client differs'),
      );
      expect(mismatched?.detail).toContain('line 2 (--client m1, policy m2)');
      expect(mismatched?.fix).toBe(
        `Run \`borg-gate keys write --file ${fixture.authorizedKeys}\`.`,
      );
    } finally {
      fixture.remove();
    }
  });
});

describe('AuthorizedKeysCommand setup', () => {
  it('accepts keys lookup without a file', async () => {
    const fixture = createFixture('lookup');
    try {
      const repo = fixture.init('lookup', 'repokey');
      fixture.writePolicy({
        clients: [{ id: 'l1', keys: [fixture.key('l1')], repositories: [repo] }],
      });
      fixture.writeSshdConfig([
        ...HARDENED_SSHD,
        'AuthorizedKeysFile none',
        'AuthorizedKeysCommand /usr/local/bin/borg-gate keys lookup %u %t %k',
        'AuthorizedKeysCommandUser nobody',
      ]);
      const options = fixture.options({ authorizedKeysFile: undefined });
      const { report } = await runDoctor(options);
      const details = row(report, 'ssh-hardening').findings.map((item) => item.detail);
      expect(details).toEqual([]);
    } finally {
      fixture.remove();
    }
  });
});

describe('hardened setup', () => {
  it('reports all rows implemented', async () => {
    const fixture = createFixture('clean');
    try {
      const repo = fixture.init('clean', 'repokey-blake2');
      const pass = join(fixture.dir, 'pass');
      writeFileSync(pass, 'doctor fixture passphrase\n', { mode: 0o600 });
      fixture.writePolicy({
        clients: [{ id: 'clean', keys: [fixture.key('clean')], repositories: [repo] }],
        checks: { repositories: { [repo]: { passphrase_file: pass } } },
      });
      writeFileSync(
        fixture.authorizedKeys,
        `${gateLine('clean', fixture.key('clean'), fixture.policyFile)}\n`,
      );
      const now = new Date();
      const recent = new Date(now.getTime() - DAY_MS).toISOString();
      const record = { first_seen: recent, last_run: recent, last_success: recent, outcome: 'ok' };
      writeFileSync(
        join(fixture.stateDir, 'check-state.json'),
        JSON.stringify({
          version: 1,
          repositories: { [repo]: { repository_only: record, verify_data: record } },
        }),
        { mode: 0o600 },
      );
      writeAuditRecords(fixture.auditLog, [
        { time: recent, event: 'session_end', client_id: 'clean', rpc: { commit: true } },
      ]);
      const { report } = await runDoctor(fixture.options({ now }));
      const notImplemented = report.protections.filter((item) => item.status !== 'implemented');
      expect(notImplemented.map((item) => `${item.id}: ${item.detail}`)).toEqual([]);
      expect(report.exit_code).toBe(0);
    } finally {
      fixture.remove();
    }
  });
});
