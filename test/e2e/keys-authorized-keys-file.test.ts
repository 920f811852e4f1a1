import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatExpiryTime } from '../../src/lib/authorized-keys/entry.js';
import { makeKey, makeTestDir, runGate, sshAs, writeEchoGate } from './harness/keys-fixture.js';
import { type Sshd, startSshd } from './harness/sshd.js';

// `keys write` fills the authorized_keys file that a real sshd reads. The forced command is a
// stand-in script that prints its arguments, so each case shows what sshd ran.
describe('keys write with a real sshd', () => {
  let dir: string;
  let sshd: Sshd;
  let policyFile: string;
  let echoGate: string;
  let web: { privateKey: string; publicLine: string };
  let old: { privateKey: string; publicLine: string };
  let remote: { privateKey: string; publicLine: string };

  beforeAll(async () => {
    dir = makeTestDir('borg-gate-keys-e2e-');
    sshd = await startSshd();
    policyFile = join(dir, 'policy.yaml');
    echoGate = writeEchoGate(dir);
    web = makeKey(dir, 'web');
    old = makeKey(dir, 'old');
    remote = makeKey(dir, 'remote');
    writeFileSync(
      policyFile,
      [
        'version: 1',
        'clients:',
        '  - id: web1',
        `    keys: ["${web.publicLine}", "${old.publicLine}"]`,
        // Host bits set on purpose: the entry must carry the network address for sshd.
        '    from: [127.0.0.9/8]',
        '  - id: offsite',
        `    keys: ["${remote.publicLine}"]`,
        '    from: [192.0.2.0/24]',
        '',
      ].join('\n'),
    );
    writeFileSync(sshd.authorizedKeysFile, '# admin note kept by borg-gate\n', { mode: 0o600 });
    await write();
  });

  afterAll(async () => {
    await sshd?.stop();
    rmSync(sshd.dir, { recursive: true, force: true });
    rmSync(dir, { recursive: true, force: true });
  });

  function write() {
    return runGate([
      'keys',
      'write',
      '--policy',
      policyFile,
      '--file',
      sshd.authorizedKeysFile,
      '--gate-path',
      echoGate,
    ]);
  }

  function check() {
    return runGate([
      'keys',
      'check',
      '--policy',
      policyFile,
      '--file',
      sshd.authorizedKeysFile,
      '--gate-path',
      echoGate,
    ]);
  }

  it('key runs forced command', async () => {
    const result = await sshAs(sshd.port, sshd.user, web.privateKey, 'borg serve --umask=077');
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toBe(
      `argv: serve --client web1 --policy ${policyFile}\noriginal: borg serve --umask=077\n`,
    );
  });

  it('foreign line kept', () => {
    expect(readFileSync(sshd.authorizedKeysFile, 'utf8')).toMatch(
      /^# admin note kept by borg-gate\n# BEGIN borg-gate managed block default\n/,
    );
  });

  it('from outside range refused', async () => {
    const result = await sshAs(sshd.port, sshd.user, remote.privateKey, 'borg serve');
    expect(result.code).toBe(255);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain('Permission denied');
  });

  it('removed key refused', async () => {
    const before = await sshAs(sshd.port, sshd.user, old.privateKey, 'borg serve');
    expect(before.code).toBe(0);
    const fingerprint = (await runGate(['keys', 'list', '--json', '--policy', policyFile])).stdout;
    const oldKey = (
      JSON.parse(fingerprint) as Array<{ fingerprint: string; comment: string }>
    ).find((key) => key.comment === 'old@client')!;
    const removed = await runGate([
      'keys',
      'remove',
      '--policy',
      policyFile,
      '--client',
      'web1',
      '--fingerprint',
      oldKey.fingerprint,
    ]);
    expect(removed.code).toBe(0);
    expect((await write()).code).toBe(0);
    const after = await sshAs(sshd.port, sshd.user, old.privateKey, 'borg serve');
    expect(after.code).toBe(255);
    expect(after.stdout).toBe('');
    const still = await sshAs(sshd.port, sshd.user, web.privateKey, 'borg serve');
    expect(still.code).toBe(0);
  });

  it('check catches hand edit', async () => {
    expect((await write()).code).toBe(0);
    expect((await check()).code).toBe(0);
    const text = readFileSync(sshd.authorizedKeysFile, 'utf8');
    writeFileSync(sshd.authorizedKeysFile, text.replace('--client web1', '--client offsite'));
    const result = await check();
    expect(result.code).toBe(1);
    expect(result.stdout).toContain('\n-command="');
    expect(result.stdout).toContain('--client offsite');
    expect(result.stdout).toMatch(/\n\+command="[^\n]*--client web1 /);
    expect(result.stderr).toContain('run "borg-gate keys write"');
    expect((await write()).code).toBe(0);
    expect((await check()).code).toBe(0);
  });

  it('sshd enforces expiry-time', async () => {
    const soon = makeKey(dir, 'soon');
    const source = readFileSync(policyFile, 'utf8');
    writeFileSync(
      policyFile,
      `${source}  - id: soon\n    keys: [{key: "${soon.publicLine}", expires: "2099-01-01"}]\n`,
    );
    expect((await write()).code).toBe(0);
    const text = readFileSync(sshd.authorizedKeysFile, 'utf8');
    expect(text).toContain(',expiry-time="20990101000000Z" ');
    const before = await sshAs(sshd.port, sshd.user, soon.privateKey, 'borg serve');
    expect(before.stdout).toContain('argv: serve --client soon');
    // Same format, a minute in the past: sshd must parse the value and reject the key.
    const past = formatExpiryTime(new Date(Date.now() - 60_000));
    writeFileSync(sshd.authorizedKeysFile, text.replace('20990101000000Z', past));
    const after = await sshAs(sshd.port, sshd.user, soon.privateKey, 'borg serve');
    expect(after.code).toBe(255);
    expect(after.stdout).toBe('');
    writeFileSync(policyFile, source);
    expect((await write()).code).toBe(0);
  });

  it('second write changes nothing', async () => {
    expect((await write()).code).toBe(0);
    const result = await write();
    expect(result.code).toBe(0);
    expect(result.stderr).toContain('is up to date');
  });
});
