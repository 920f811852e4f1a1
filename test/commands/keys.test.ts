import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { formatStamp, NO_STAMP, STAMP_SETTLE_NS } from '../../src/lib/policy/file-stamp.js';
import { GATE, runGate } from '../e2e/harness/keys-fixture.js';
import { makeKeys, randomPublicKey } from '../lib/authorized-keys/fixtures.js';

// Runs the built CLI (`npm test` builds it first), so option parsing and exit codes are real.
const { dir, keys } = makeKeys(3);
const policyFile = join(dir, 'policy.yaml');
const source = `version: 1\n# clients\nclients:\n  - id: web1\n    keys: ["${keys[0]}"]\n`;

beforeEach(() => {
  writeFileSync(policyFile, source);
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** Writes a policy of `count` clients with random keys; `keyOf` may replace one client's key. */
function writeLargePolicy(count: number, keyOf: (index: number) => string = randomPublicKey) {
  const clients = Array.from({ length: count }, (_, index) => [
    `  - id: c${index}`,
    `    keys: ["${keyOf(index)} c${index}"]`,
  ]);
  writeFileSync(policyFile, ['version: 1', 'clients:', ...clients.flat(), ''].join('\n'));
}

/** Options that point a keys command at the test policy, `file` and a fixed gate path. */
function fileArgs(file: string): string[] {
  return ['--policy', policyFile, '--file', file, '--gate-path', '/usr/local/bin/borg-gate'];
}

/** Runs `keys write` of the test policy into `file` with the lookup index `index`. */
function writeWithIndex(file: string, index: string) {
  return runGate(['keys', 'write', '--policy', policyFile, '--file', file, '--index', index]);
}

describe('keys CLI', () => {
  it('render defaults gate path', async () => {
    const result = await runGate(['keys', 'render', '--policy', policyFile]);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(
      `command="${GATE} serve --client web1 --policy ${policyFile}",restrict `,
    );
  });

  it('render invalid key exits 1', async () => {
    writeFileSync(policyFile, `version: 1\nclients:\n  - id: web1\n    keys: ["ssh-dss AAAA"]\n`);
    const result = await runGate(['keys', 'render', '--policy', policyFile]);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain('clients[0].keys[0] (client "web1"): DSA keys (ssh-dss)');
  });

  it('render prints nothing when a late key is bad', async () => {
    writeLargePolicy(2000, (index) => (index === 1999 ? 'ssh-ed25519 AAAA' : randomPublicKey()));
    const result = await runGate(['keys', 'render', '--policy', policyFile]);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain('clients[1999].keys[0] (client "c1999")');
  });

  it('render into a pipe closed early ends quietly', async () => {
    writeLargePolicy(2000);
    const child = spawn(process.execPath, [GATE, 'keys', 'render', '--policy', policyFile], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    // Like `| head -c 100`: read one chunk, then close the pipe.
    child.stdout.once('data', () => child.stdout.destroy());
    const [code] = (await once(child, 'close')) as [number];
    expect(stderr).toBe('');
    expect(code).toBe(0);
  });

  it('write stopped with SIGTERM leaves no temporary file', async () => {
    const work = join(dir, 'sigterm');
    mkdirSync(work, { recursive: true });
    writeLargePolicy(20000);
    const file = join(work, 'authorized_keys');
    writeFileSync(file, '# kept\n', { mode: 0o600 });
    const child = spawn(
      process.execPath,
      [GATE, 'keys', 'write', '--policy', policyFile, '--file', file],
      { stdio: 'ignore' },
    );
    const exited = once(child, 'close');
    // The temporary file exists from the first piece until the rename.
    for (let tries = 0; tries < 2000; tries += 1) {
      if (
        readdirSync(work).some(
          (name) => name.includes('.borg-gate-') && name !== 'authorized_keys.borg-gate-lock',
        )
      ) {
        break;
      }
      await new Promise((done) => setTimeout(done, 2));
    }
    child.kill('SIGTERM');
    const [, signal] = (await exited) as [number | null, string | null];
    expect(signal).toBe('SIGTERM');
    expect(readdirSync(work)).toEqual(['authorized_keys']);
    expect(readFileSync(file, 'utf8')).toBe('# kept\n');
  });

  it('render from the cache equals the first render', async () => {
    const stateDir = join(dir, 'state-render');
    mkdirSync(stateDir, { recursive: true });
    const clients = keys.map((key, index) => `  - id: c${index}\n    keys: ["${key}"]\n`);
    writeFileSync(policyFile, `version: 1\nstate_dir: ${stateDir}\nclients:\n${clients.join('')}`);
    const first = await runGate(['keys', 'render', '--policy', policyFile]);
    expect(first.code).toBe(0);
    expect(readdirSync(stateDir)).toHaveLength(1);
    const second = await runGate(['keys', 'render', '--policy', policyFile]);
    expect(second.stdout).toBe(first.stdout);
    expect(second.stdout.match(/ serve --client c\d /g)).toHaveLength(keys.length);
  });

  it('render from the cache still checks keys', async () => {
    const stateDir = join(dir, 'state-invalid');
    mkdirSync(stateDir, { recursive: true });
    writeFileSync(
      policyFile,
      `version: 1\nstate_dir: ${stateDir}\nclients:\n  - id: web1\n    keys: ["ssh-dss AAAA"]\n`,
    );
    for (const round of ['writes the cache', 'reads the cache']) {
      const result = await runGate(['keys', 'render', '--policy', policyFile]);
      expect(result.code, round).toBe(1);
      expect(result.stdout, round).toBe('');
      expect(result.stderr, round).toContain('DSA keys (ssh-dss)');
    }
    expect(readdirSync(stateDir)).toHaveLength(1);
  });

  it('write without file explains', async () => {
    const result = await runGate(['keys', 'write', '--policy', policyFile]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('pass --file PATH or set BORG_GATE_AUTHORIZED_KEYS');
  });

  it('list shows fingerprint', async () => {
    const result = await runGate(['keys', 'list', '--policy', policyFile]);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/fingerprint/);
    expect(result.stdout).toMatch(
      /web1 .* ssh-ed25519 .* SHA256:\S+ .* key0@test .* append-only .* active/,
    );
  });

  it('list cuts a long comment in the table only', async () => {
    const comment = `long-${'x'.repeat(300)}`;
    writeFileSync(
      policyFile,
      source.replace(`${keys[0]}`, `${keys[0]!.split(' ').slice(0, 2).join(' ')} ${comment}`),
    );
    const table = await runGate(['keys', 'list', '--policy', policyFile]);
    expect(table.stdout).toContain(`long-${'x'.repeat(34)}…`);
    expect(table.stdout).not.toContain('x'.repeat(40));
    const json = await runGate(['keys', 'list', '--policy', policyFile, '--json']);
    expect(json.stdout).toContain(comment);
  });

  it('add reads stdin', async () => {
    const result = await runGate(
      ['keys', 'add', '--policy', policyFile, '--client', 'web1', '--key', '-'],
      `${keys[1]}\n`,
    );
    expect(result.code).toBe(0);
    expect(readFileSync(policyFile, 'utf8')).toContain(`key: ${keys[1]}`);
    expect(readFileSync(policyFile, 'utf8')).toContain('# clients\n');
  });

  it.each([
    ['7 days', 'duration "7 days" is invalid'],
    ['99999999w', 'duration "99999999w" is over 10 years'],
    ['2000000w', 'is over 10 years'],
  ])('rotate rejects overlap %s', async (overlap, problem) => {
    const keyFile = join(dir, 'key2.pub');
    const result = await runGate([
      ...['keys', 'rotate', '--policy', policyFile, '--client', 'web1'],
      ...['--key', keyFile, '--overlap', overlap],
    ]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(problem);
    expect(result.stderr).not.toContain('internal error');
    expect(readFileSync(policyFile, 'utf8')).toBe(source);
  });

  it('write index used by lookup', async () => {
    const file = join(dir, 'authorized_keys');
    const index = join(dir, 'lookup.index');
    const gate = ['--gate-path', '/usr/local/bin/borg-gate'];
    const written = await runGate([
      'keys',
      'write',
      '--policy',
      policyFile,
      '--file',
      file,
      '--index',
      index,
      ...gate,
    ]);
    expect(written.code).toBe(0);
    const [type, base64] = keys[0]!.split(' ');
    const args = ['keys', 'lookup', '--policy', policyFile, ...gate, '--index', index];
    const found = await runGate([...args, 'borg', type!, base64!]);
    expect(found.stdout).toBe(`${readFileSync(file, 'utf8').split('\n')[2]}\n`);
    expect(readFileSync(index, 'utf8')).toContain(`${base64} command=`);
    expect(written.stderr).toContain(`wrote lookup index ${index}`);
  });

  it('index stamp recorded once settled', async () => {
    const index = join(dir, 'lookup.stamped.index');
    const gate = ['--gate-path', '/usr/local/bin/borg-gate'];
    const write = ['keys', 'write', '--policy', policyFile, '--file', join(dir, 'ak'), ...gate];
    expect((await runGate([...write, '--index', index])).code).toBe(0);
    // Written a moment ago: a second write in the same clock tick could go unseen.
    expect(readFileSync(index, 'utf8')).toContain(`# policy-stat ${NO_STAMP}\n`);
    await new Promise((done) => setTimeout(done, Number(STAMP_SETTLE_NS / 1_000_000n) + 100));
    expect((await runGate([...write, '--index', index])).code).toBe(0);
    const stamp = formatStamp(statSync(policyFile, { bigint: true }));
    expect(readFileSync(index, 'utf8')).toContain(`# policy-stat ${stamp}\n`);
    // An edit of the same size changes the stamp, so the lookup returns the new client id.
    writeFileSync(policyFile, source.replace('web1', 'web2'));
    const [type, base64] = keys[0]!.split(' ');
    const args = ['keys', 'lookup', '--policy', policyFile, ...gate, '--index', index];
    const found = await runGate([...args, 'borg', type!, base64!]);
    expect(found.stdout).toContain('--client web2 ');
  });

  it('check flags loose mode', async () => {
    const file = join(dir, 'authorized_keys.mode');
    const gate = ['--gate-path', '/usr/local/bin/borg-gate'];
    const base = ['--policy', policyFile, '--file', file, ...gate];
    expect((await runGate(['keys', 'write', ...base])).code).toBe(0);
    expect((await runGate(['keys', 'check', ...base])).code).toBe(0);
    chmodSync(file, 0o664);
    const result = await runGate(['keys', 'check', ...base]);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain('has mode 0664 instead of 0600');
  });

  it('check with --owner flags a file the account owns again', async () => {
    const file = join(dir, 'authorized_keys.owner');
    const base = fileArgs(file);
    expect((await runGate(['keys', 'write', ...base, '--owner', 'root'])).code).toBe(0);
    expect((await runGate(['keys', 'check', ...base, '--owner', 'root'])).code).toBe(0);
    chownSync(file, 65534, 65534);
    const checked = await runGate(['keys', 'check', ...base, '--owner', 'root']);
    expect(checked.code).toBe(1);
    expect(checked.stderr).toContain('is owned by uid 65534:65534 instead of root (0:0)');
    expect((await runGate(['keys', 'check', ...base])).code).toBe(0);
  });

  it('check flags outside key line', async () => {
    const file = join(dir, 'authorized_keys.outside');
    const gate = ['--gate-path', '/usr/local/bin/borg-gate'];
    const base = ['--policy', policyFile, '--file', file, ...gate];
    expect((await runGate(['keys', 'write', ...base])).code).toBe(0);
    const [type, base64] = keys[2]!.split(' ');
    const fingerprint = execFileSync('ssh-keygen', ['-lf', '-'], { input: keys[2]! })
      .toString()
      .split(' ')[1]!;
    writeFileSync(file, `${readFileSync(file, 'utf8')}# note\n${type} ${base64} secret-comment\n`);
    const checked = await runGate(['keys', 'check', ...base]);
    expect(checked.code).toBe(1);
    expect(checked.stdout).toBe('');
    expect(checked.stderr).toContain(`${file}:6: key ssh-ed25519 ${fingerprint} is outside`);
    expect(checked.stderr).not.toContain('secret-comment');
    expect(checked.stderr).not.toContain(base64);
    const written = await runGate(['keys', 'write', ...base]);
    expect(written.code).toBe(0);
    expect(written.stderr).toContain('is up to date');
    expect(written.stderr).toContain(`${file}:6: key ssh-ed25519 ${fingerprint} is outside`);
  });

  it('write numbers outside lines as check does after changing the block', async () => {
    const file = join(dir, 'authorized_keys.numbers');
    const base = fileArgs(file);
    writeFileSync(file, `${keys[2]} before\n`, { mode: 0o600 });
    expect((await runGate(['keys', 'write', ...base])).code).toBe(0);
    // A hand edit drops the last entry, so the next write changes the block.
    const lines = readFileSync(file, 'utf8').split('\n');
    const lastEntry = lines.map((line) => line.startsWith('command=')).lastIndexOf(true);
    lines.splice(lastEntry, 1);
    writeFileSync(file, `${lines.join('\n')}${keys[2]} after\n`);
    const written = await runGate(['keys', 'write', ...base]);
    expect(written.stderr).toContain('wrote');
    const afterLine = readFileSync(file, 'utf8').split('\n').indexOf(`${keys[2]} after`) + 1;
    expect(afterLine).toBeGreaterThan(3);
    expect(written.stderr).toContain(`${file}:1: key`);
    expect(written.stderr).toContain(`${file}:${afterLine}: key`);
    const checked = await runGate(['keys', 'check', ...base]);
    expect(checked.stderr).toContain(`${file}:${afterLine}: key`);
  });

  it('check reports a block that differs only in its final newline', async () => {
    const file = join(dir, 'authorized_keys.newline');
    const base = fileArgs(file);
    writeFileSync(file, '# before\n', { mode: 0o600 });
    expect((await runGate(['keys', 'write', ...base])).code).toBe(0);
    writeFileSync(file, readFileSync(file, 'utf8').replace(/\n$/, ''));
    const checked = await runGate(['keys', 'check', ...base]);
    expect(checked.code).toBe(1);
    expect(checked.stdout).toBe('');
    expect(checked.stderr).toContain(
      'differs from the policy only in bytes a line diff does not show',
    );
  });

  it('check numbers diff lines as in the file', async () => {
    const file = join(dir, 'authorized_keys.diff-lines');
    const base = fileArgs(file);
    writeFileSync(file, '# one\n# two\n', { mode: 0o600 });
    expect((await runGate(['keys', 'write', ...base])).code).toBe(0);
    const lines = readFileSync(file, 'utf8').split('\n');
    const entry = lines.findIndex((line) => line.startsWith('command='));
    lines[entry] = `${lines[entry]} edited`;
    writeFileSync(file, lines.join('\n'));
    const checked = await runGate(['keys', 'check', ...base]);
    expect(checked.code).toBe(1);
    // Up to three lines of context above the edited line, within the block (from line 3).
    expect(checked.stdout).toContain(`@@ -${Math.max(entry + 1 - 3, 3)},`);
  });

  it('check flags key hidden in a made-up block', async () => {
    const file = join(dir, 'authorized_keys.hidden');
    const gate = ['--gate-path', '/usr/local/bin/borg-gate'];
    const base = ['--policy', policyFile, '--file', file, ...gate];
    expect((await runGate(['keys', 'write', ...base])).code).toBe(0);
    const shell = `command="/usr/local/bin/borg-gate serve ; id",restrict ${keys[1]}`;
    const hidden = `# BEGIN borg-gate managed block zz\n${keys[2]}\n${shell}\n# END borg-gate managed block zz\n`;
    writeFileSync(file, `${readFileSync(file, 'utf8')}${hidden}`);
    const checked = await runGate(['keys', 'check', ...base]);
    expect(checked.code).toBe(1);
    expect(checked.stderr).toContain(`${file}:6: key ssh-ed25519 `);
    expect(checked.stderr).toContain(`${file}:7: key ssh-ed25519 `);
    expect(checked.stderr).toContain(
      `is in block "zz" but is not an entry as this borg-gate (--gate-path) writes them`,
    );
  });

  it('check help names exit status', async () => {
    const result = await runGate(['keys', 'check', '--help']);
    expect(result.stdout.replaceAll('\n', ' ')).toContain(
      'a key line is outside the managed blocks',
    );
  });

  it('write rejects newline block', async () => {
    const file = join(dir, 'authorized_keys.block');
    const result = await runGate([
      'keys',
      'write',
      '--policy',
      policyFile,
      '--file',
      file,
      '--block',
      'x\nssh-ed25519 AAAA evil',
    ]);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(
      'borg-gate: --block "x\\nssh-ed25519 AAAA evil" is invalid; a block name is 1-64 characters of A-Z, a-z, 0-9, ".", "_" or "-", starting with a letter or digit\n',
    );
    expect(existsSync(file)).toBe(false);
  });

  it('write refuses an index path that holds another file', async () => {
    const file = join(dir, 'authorized_keys.other-index');
    const result = await writeWithIndex(file, policyFile);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('the file exists and is not a borg-gate lookup index');
    expect(readFileSync(policyFile, 'utf8')).toBe(source);
    expect(existsSync(file)).toBe(false);
  });

  it.each([
    ['the policy file', () => policyFile],
    ['the --index file', () => join(dir, 'same.index')],
  ])('write refuses --file that is %s', async (name, path) => {
    const target = path();
    const result = await runGate([
      ...['keys', 'write', '--policy', policyFile],
      ...['--file', target, '--index', join(dir, 'same.index')],
    ]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`is ${name}; pass the authorized_keys path`);
    expect(readFileSync(policyFile, 'utf8')).toBe(source);
  });

  it('write refuses an index path that is a FIFO', async () => {
    const fifo = join(dir, 'index.fifo');
    rmSync(fifo, { force: true });
    execFileSync('mkfifo', [fifo]);
    const file = join(dir, 'authorized_keys.fifo-index');
    const result = await writeWithIndex(file, fifo);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('the path is not a regular file');
    expect(statSync(fifo).isFIFO()).toBe(true);
  });

  it('write rejects index as file, backup as index', async () => {
    const file = join(dir, 'authorized_keys.index-as-file');
    const index = join(dir, 'as-file.index');
    const write = ['keys', 'write', '--policy', policyFile];
    expect((await runGate([...write, '--file', file, '--index', index])).code).toBe(0);
    const asFile = await runGate([...write, '--file', index]);
    expect(asFile.code).toBe(1);
    expect(asFile.stderr).toContain('is a borg-gate lookup index');
    const asBackup = await runGate([...write, '--file', file, '--index', `${file}.bak`]);
    expect(asBackup.code).toBe(1);
    expect(asBackup.stderr).toContain('is the backup copy keys write keeps');
  });

  it('check cuts a long diff', async () => {
    writeLargePolicy(1100);
    const file = join(dir, 'authorized_keys.long-diff');
    const write = ['keys', 'write', '--policy', policyFile, '--file', file];
    expect((await runGate([...write, '--gate-path', '/opt/a/borg-gate'])).code).toBe(0);
    const checked = await runGate([
      'keys',
      'check',
      '--policy',
      policyFile,
      '--file',
      file,
      '--gate-path',
      '/opt/b/borg-gate',
    ]);
    expect(checked.code).toBe(1);
    const lines = checked.stdout.split('\n');
    expect(lines).toHaveLength(2002);
    expect(lines[1000]).toMatch(/^\.\.\. \d+ lines of the diff are not shown here \.\.\.$/);
    // The old lines come first and the new ones last, so both kinds are shown.
    expect(lines.some((line) => line.startsWith('-command="/opt/a/'))).toBe(true);
    expect(lines.some((line) => line.startsWith('+command="/opt/b/'))).toBe(true);
  });

  it('check escapes control characters of the installed block', async () => {
    const file = join(dir, 'authorized_keys.escape');
    const base = fileArgs(file);
    expect((await runGate(['keys', 'write', ...base])).code).toBe(0);
    const text = readFileSync(file, 'utf8').replace(
      /\n(# END)/,
      `\n${keys[2]} \u001b[1A\u001b[2K\n$1`,
    );
    writeFileSync(file, text);
    const checked = await runGate(['keys', 'check', ...base]);
    expect(checked.code).toBe(1);
    expect(checked.stdout).not.toContain('\u001b');
    expect(checked.stdout).toContain('\\u{1b}[1A');
  });

  it('write gives a foreign-owned index back to root', async () => {
    const file = join(dir, 'authorized_keys.index-owner');
    const index = join(dir, 'owner.index');
    const write = ['keys', 'write', '--policy', policyFile, '--file', file, '--index', index];
    expect((await runGate(write)).code).toBe(0);
    chownSync(index, 65534, 65534);
    expect((await runGate(write)).code).toBe(0);
    expect(statSync(index).uid).toBe(process.getuid?.());
  });

  it.each([
    [
      'missing',
      'missing/dir/idx',
      `directory ${dir}/missing/dir does not exist; create it or pass another --index path`,
    ],
    ['a directory', '.', 'the path is a directory; pass the path of a file in it'],
    ['a symlink', 'index.link', 'the path is a symbolic link; pass the path of the real file'],
  ])('write rejects index %s', async (_case, index, problem) => {
    if (index === 'index.link') {
      rmSync(join(dir, index), { force: true });
      symlinkSync(join(dir, 'index.real'), join(dir, index));
    }
    const file = join(dir, 'authorized_keys.index');
    const result = await runGate([
      'keys',
      'write',
      ...['--policy', policyFile, '--file', file, '--index', join(dir, index)],
    ]);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    const shown = JSON.stringify(join(dir, index));
    expect(result.stderr).toBe(`borg-gate: --index ${shown}: ${problem}\n`);
    expect(existsSync(file)).toBe(false);
  });

  it.each([
    ['missing', '/nonexistent.pub', 'does not exist'],
    ['a directory', '/tmp', 'is a directory'],
  ])('add rejects key file %s', async (_case, keyFile, problem) => {
    const result = await runGate([
      'keys',
      'add',
      ...['--policy', policyFile, '--client', 'web1', '--key', keyFile],
    ]);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(
      `borg-gate: --key "${keyFile}" ${problem}; pass the path of a public key file (.pub), or - to read the key from stdin\n`,
    );
    expect(readFileSync(policyFile, 'utf8')).toBe(source);
  });

  it('file error gets no help', async () => {
    const result = await runGate(['audit', 'tail', '--file', join(dir, 'missing.log')]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^borg-gate: .*missing\.log.*\n$/);
    expect(result.stderr).not.toContain('Options:');
    expect(result.stderr).not.toContain('    at ');
  });

  it('usage error keeps help', async () => {
    const result = await runGate(['keys', 'check', '--no-such-option']);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('Options:');
    expect(result.stderr).toContain('Unknown argument');
  });

  it('check refuses symlink', async () => {
    const file = join(dir, 'authorized_keys.link');
    symlinkSync(policyFile, file);
    const result = await runGate(['keys', 'check', '--policy', policyFile, '--file', file]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('is a symbolic link');
  });

  it('lookup through yargs keeps policy', async () => {
    const [type, base64] = keys[0]!.split(' ');
    const result = await runGate([
      '--policy',
      policyFile,
      'keys',
      'lookup',
      'borg',
      type!,
      base64!,
    ]);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('--client web1');
  });

  it('lookup help lists options', async () => {
    const result = await runGate(['keys', 'lookup', '--help']);
    expect(result.code).toBe(0);
    for (const option of ['--policy', '--gate-path', '--user', '--index']) {
      expect(result.stdout).toContain(`  ${option} `);
    }
    expect(result.stdout).toContain(
      'AuthorizedKeysCommand /usr/local/bin/borg-gate keys lookup --user borg %u %t %k',
    );
    expect(result.stdout).toContain('AuthorizedKeysCommandUser borg-gate-lookup');
  });

  it('lookup through yargs passes options', async () => {
    const [type, base64] = keys[0]!.split(' ');
    const base = ['--policy', policyFile, 'keys', 'lookup', '--gate-path', '/opt/gate/borg-gate'];
    const found = await runGate([...base, '--user', 'borg', 'borg', type!, base64!]);
    expect(found.code).toBe(0);
    expect(found.stdout).toContain('command="/opt/gate/borg-gate serve --client web1');
    const other = await runGate([...base, '--user', 'borg', 'root', type!, base64!]);
    expect(other.code).toBe(0);
    expect(other.stdout).toBe('');
  });
});
