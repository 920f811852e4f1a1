import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { DoctorOptions } from '../../../src/lib/doctor/context.js';

export const PASSPHRASE = 'doctor fixture passphrase';

export type InitEncryption =
  | 'none'
  | 'repokey'
  | 'repokey-blake2'
  | 'keyfile'
  | 'keyfile-blake2'
  | 'authenticated';

/** A temp directory holding repositories, a policy, an audit log, sshd config and state. */
export interface DoctorFixture {
  dir: string;
  policyFile: string;
  auditLog: string;
  stateDir: string;
  sshdConfig: string;
  authorizedKeys: string;
  systemdDir: string;
  /** Runs the real `borg init` and returns the repository path. */
  init(name: string, encryption: InitEncryption, options?: { appendOnly?: boolean }): string;
  /** Creates (once) an ed25519 key pair and returns the public key line. */
  key(name: string): string;
  writePolicy(policy: Record<string, unknown>): void;
  writeSshdConfig(lines: string[]): void;
  options(overrides?: Partial<DoctorOptions>): DoctorOptions;
  remove(): void;
}

export function createFixture(prefix: string): DoctorFixture {
  const dir = mkdtempSync(join(tmpdir(), `borg-gate-doctor-${prefix}-`));
  const stateDir = join(dir, 'state');
  const systemdDir = join(dir, 'systemd');
  mkdirSync(stateDir, { mode: 0o700 });
  mkdirSync(systemdDir);
  mkdirSync(join(dir, 'keys'));
  const hostKey = join(dir, 'ssh_host_ed25519_key');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', hostKey]);
  const keys = new Map<string, string>();
  const env = {
    PATH: '/usr/bin:/bin',
    HOME: dir,
    BORG_BASE_DIR: join(dir, 'client-borg'),
    BORG_PASSPHRASE: PASSPHRASE,
  };
  const fixture: DoctorFixture = {
    dir,
    policyFile: join(dir, 'policy.yaml'),
    auditLog: join(dir, 'audit.log'),
    stateDir,
    sshdConfig: join(dir, 'sshd_config'),
    authorizedKeys: join(dir, 'authorized_keys'),
    systemdDir,
    init(name, encryption, options = {}) {
      const repository = join(dir, 'repos', name);
      mkdirSync(join(dir, 'repos'), { recursive: true });
      const args = ['init', '--encryption', encryption];
      if (options.appendOnly) {
        args.push('--append-only');
      }
      execFileSync('borg', [...args, repository], { env, stdio: 'pipe' });
      return repository;
    },
    key(name) {
      const existing = keys.get(name);
      if (existing !== undefined) {
        return existing;
      }
      const file = join(dir, 'keys', name);
      execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', name, '-f', file]);
      const line = readFileSync(`${file}.pub`, 'utf8').trim();
      keys.set(name, line);
      return line;
    },
    writePolicy(policy) {
      const full = { version: 1, audit_log: fixture.auditLog, state_dir: stateDir, ...policy };
      writeFileSync(fixture.policyFile, stringify(full), { mode: 0o600 });
      chmodSync(fixture.policyFile, 0o600);
    },
    writeSshdConfig(lines) {
      writeFileSync(fixture.sshdConfig, [`HostKey ${hostKey}`, ...lines, ''].join('\n'));
    },
    options(overrides = {}) {
      return {
        policyFile: fixture.policyFile,
        authorizedKeysFile: fixture.authorizedKeys,
        sshd: '/usr/sbin/sshd',
        sshdConfig: fixture.sshdConfig,
        user: userInfo().username,
        stateDir: undefined,
        systemdDir,
        idleDays: 30,
        maxKeyAgeDays: 365,
        now: new Date(),
        ...overrides,
      };
    },
    remove() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
  fixture.writeSshdConfig(HARDENED_SSHD);
  writeFileSync(fixture.authorizedKeys, '', { mode: 0o600 });
  return fixture;
}

/** The settings of deploy/sshd/borg-gate.conf, written at the top level for a test user. */
export const HARDENED_SSHD = [
  'PasswordAuthentication no',
  'KbdInteractiveAuthentication no',
  'PermitTTY no',
  'X11Forwarding no',
  'AllowTcpForwarding no',
  'AllowAgentForwarding no',
  'PermitUserEnvironment no',
  'ExposeAuthInfo yes',
];

/** Formats the authorized_keys line `borg-gate keys write` would write for a client. */
export function gateLine(client: string, publicKey: string, policyFile: string): string {
  return `command="/usr/local/bin/borg-gate serve --client ${client} --policy ${policyFile}",restrict ${publicKey}`;
}

/** Appends audit records: only the fields doctor reads are filled in, hashes are placeholders. */
export function writeAuditRecords(file: string, records: Array<Record<string, unknown>>): void {
  const lines = records.map((record) =>
    JSON.stringify({
      schema_version: 1,
      host: 'test',
      prev_hash: '0'.repeat(64),
      hash: '0'.repeat(64),
      ...record,
    }),
  );
  writeFileSync(file, `${lines.join('\n')}\n`, { mode: 0o600 });
}
