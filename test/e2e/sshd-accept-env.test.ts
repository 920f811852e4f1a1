import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run, sshOptions } from './harness/gate.js';
import { removeDir, type Sshd, startSshd } from './harness/sshd.js';

// Checks the sshd behaviour that deploy/sshd/borg-gate.conf relies on: an AcceptEnv line in the
// backup account's Match block replaces a server-wide list that accepts NODE_OPTIONS.

const SNIPPET_LINE = readFileSync('deploy/sshd/borg-gate.conf', 'utf8')
  .split('\n')
  .map((line) => line.trim())
  .find((line) => line.startsWith('AcceptEnv '));

let keyDir: string;
let privateKey: string;
let publicKey: string;

beforeAll(() => {
  keyDir = mkdtempSync(join(tmpdir(), 'borg-gate-acceptenv-'));
  privateKey = join(keyDir, 'id_ed25519');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', privateKey]);
  publicKey = readFileSync(`${privateKey}.pub`, 'utf8').trim();
});

afterAll(() => removeDir(keyDir));

/** Starts sshd with `extraConfig`, logs in with NODE_OPTIONS and LANG sent, returns the env. */
async function environmentSeen(extraConfig: string[]): Promise<string> {
  const sshd: Sshd = await startSshd({ extraConfig });
  try {
    // The forced command prints the environment the account's programs would get.
    sshd.setAuthorizedKeys(`command="/usr/bin/env",restrict ${publicKey}\n`);
    const result = await run(
      'ssh',
      [
        ...sshOptions(privateKey),
        ...['-o', 'SendEnv=NODE_OPTIONS LANG', '-p', String(sshd.port)],
        `${sshd.user}@127.0.0.1`,
      ],
      {
        env: {
          PATH: '/usr/bin:/bin',
          NODE_OPTIONS: '--require /nonexistent/evil.js',
          LANG: 'C.UTF-8',
        },
      },
    );
    expect(result.code, result.stderr).toBe(0);
    return result.stdout;
  } finally {
    await sshd.stop();
    removeDir(sshd.dir);
  }
}

describe('sshd AcceptEnv', () => {
  it('snippet narrows the list', () => {
    expect(SNIPPET_LINE).toBe('AcceptEnv LANG LC_*');
  });

  it('server-wide list passes NODE_OPTIONS', async () => {
    const environment = await environmentSeen(['AcceptEnv LANG LC_* NODE_OPTIONS']);
    expect(environment).toContain('NODE_OPTIONS=--require /nonexistent/evil.js');
  });

  it('Match block drops NODE_OPTIONS', async () => {
    const environment = await environmentSeen([
      'AcceptEnv LANG LC_* NODE_OPTIONS',
      `Match User ${userInfo().username}`,
      `    ${SNIPPET_LINE}`,
    ]);
    expect(environment).not.toContain('NODE_OPTIONS');
    expect(environment).toContain('LANG=C.UTF-8');
  });
});
