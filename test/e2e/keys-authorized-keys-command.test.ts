import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  GATE,
  makeKey,
  makeTestDir,
  runGate,
  sshAs,
  writeEchoGate,
} from './harness/keys-fixture.js';
import { type Sshd, startSshd } from './harness/sshd.js';

// sshd runs `keys lookup` for each offered key, and the authorized_keys file stays empty.
describe('keys lookup as AuthorizedKeysCommand', () => {
  let dir: string;
  let commandDir: string;
  let sshd: Sshd;
  let policyFile: string;
  let echoGate: string;
  let web: { privateKey: string; publicLine: string };
  let spare: { privateKey: string; publicLine: string };
  let stranger: { privateKey: string; publicLine: string };

  beforeAll(async () => {
    dir = makeTestDir('borg-gate-lookup-e2e-');
    policyFile = join(dir, 'policy.yaml');
    echoGate = writeEchoGate(dir);
    web = makeKey(dir, 'web');
    spare = makeKey(dir, 'spare');
    stranger = makeKey(dir, 'stranger');
    writeFileSync(
      policyFile,
      `version: 1\nclients:\n  - id: web1\n    keys: ["${web.publicLine}", "${spare.publicLine}"]\n`,
    );
    // sshd runs the command only if it and every parent directory are root-owned and not
    // writable by others, which rules out /tmp; /run is root-owned 0755 on Debian.
    commandDir = mkdtempSync('/run/borg-gate-lookup-');
    chmodSync(commandDir, 0o755);
    const command = join(commandDir, 'lookup');
    writeFileSync(
      command,
      `#!/bin/sh\nexec ${process.execPath} ${GATE} keys lookup --policy ${policyFile} --gate-path ${echoGate} --user root "$@"\n`,
      { mode: 0o755 },
    );
    sshd = await startSshd({
      extraConfig: [
        `AuthorizedKeysCommand ${command} %u %t %k`,
        'AuthorizedKeysCommandUser nobody',
      ],
    });
  });

  afterAll(async () => {
    await sshd?.stop();
    rmSync(sshd.dir, { recursive: true, force: true });
    rmSync(dir, { recursive: true, force: true });
    rmSync(commandDir, { recursive: true, force: true });
  });

  it('listed key runs forced command', async () => {
    const result = await sshAs(sshd.port, sshd.user, web.privateKey, 'borg serve');
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toBe(
      `argv: serve --client web1 --policy ${policyFile}\noriginal: borg serve\n`,
    );
  });

  it('unlisted key refused', async () => {
    const result = await sshAs(sshd.port, sshd.user, stranger.privateKey, 'borg serve');
    expect(result.code).toBe(255);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain('Permission denied');
  });

  it('removed key refused at once', async () => {
    const before = await sshAs(sshd.port, sshd.user, spare.privateKey, 'borg serve');
    expect(before.code).toBe(0);
    const list = await runGate(['keys', 'list', '--json', '--policy', policyFile]);
    const entry = (JSON.parse(list.stdout) as Array<{ fingerprint: string; comment: string }>).find(
      (key) => key.comment === 'spare@client',
    )!;
    const removed = await runGate([
      'keys',
      'remove',
      '--policy',
      policyFile,
      '--client',
      'web1',
      '--fingerprint',
      entry.fingerprint,
    ]);
    expect(removed.code).toBe(0);
    // No `keys write`: the lookup reads the policy on every attempt.
    const after = await sshAs(sshd.port, sshd.user, spare.privateKey, 'borg serve');
    expect(after.code).toBe(255);
    expect(after.stdout).toBe('');
  });

  it('lookup for other user prints nothing', async () => {
    const [type, base64] = web.publicLine.split(' ');
    const result = await runGate([
      'keys',
      'lookup',
      '--policy',
      policyFile,
      '--gate-path',
      echoGate,
      '--user',
      'borg',
      'root',
      type!,
      base64!,
    ]);
    expect(result.code).toBe(0);
    expect(result.stdout).toBe('');
  });
});
