import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// The shipped sshd snippet must load in a real sshd and give the backup account these settings.
describe('deploy/sshd/borg-gate.conf', () => {
  let dir: string;
  let config: string;

  beforeAll(() => {
    dir = mkdtempSync('/tmp/borg-gate-snippet-');
    const hostKey = join(dir, 'host_key');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', hostKey]);
    config = join(dir, 'sshd_config');
    const snippet = readFileSync('deploy/sshd/borg-gate.conf', 'utf8');
    writeFileSync(config, `HostKey ${hostKey}\nPidFile ${join(dir, 'pid')}\n${snippet}`);
  });

  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('passes sshd -t', () => {
    expect(() =>
      execFileSync('/usr/sbin/sshd', ['-t', '-f', config], { stdio: 'pipe' }),
    ).not.toThrow();
  });

  it.each([
    ['passwordauthentication', 'no'],
    ['kbdinteractiveauthentication', 'no'],
    ['permittty', 'no'],
    ['allowtcpforwarding', 'no'],
    ['allowagentforwarding', 'no'],
    ['x11forwarding', 'no'],
    ['permituserenvironment', 'no'],
    ['exposeauthinfo', 'yes'],
    ['authorizedkeysfile', '/etc/ssh/authorized_keys/%u'],
  ])('sets %s %s for the backup account', (name, value) => {
    const effective = execFileSync(
      '/usr/sbin/sshd',
      ['-T', '-f', config, '-C', 'user=borg,host=client.example,addr=192.0.2.10'],
      { encoding: 'utf8' },
    );
    const line = effective.split('\n').find((entry) => entry.startsWith(`${name} `));
    expect(line).toBe(`${name} ${value}`);
  });
});
