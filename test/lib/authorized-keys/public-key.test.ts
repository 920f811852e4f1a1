import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  formatPublicKey,
  PublicKeyError,
  parsePublicKey,
} from '../../../src/lib/authorized-keys/public-key.js';
import { encodeString } from '../../../src/lib/authorized-keys/ssh-wire.js';
import { fidoFromEcdsa256, fidoFromEd25519, generateKey, keygenFingerprint } from './ssh-keygen.js';

let dir: string;
const keys: Record<string, string> = {};

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'borg-gate-pubkey-'));
  keys.ed25519 = generateKey(dir, 'ed25519', ['-t', 'ed25519']);
  keys.ecdsa256 = generateKey(dir, 'ecdsa256', ['-t', 'ecdsa', '-b', '256']);
  keys.ecdsa384 = generateKey(dir, 'ecdsa384', ['-t', 'ecdsa', '-b', '384']);
  keys.ecdsa521 = generateKey(dir, 'ecdsa521', ['-t', 'ecdsa', '-b', '521']);
  keys.rsa2048 = generateKey(dir, 'rsa2048', ['-t', 'rsa', '-b', '2048']);
  keys.rsa4096 = generateKey(dir, 'rsa4096', ['-t', 'rsa', '-b', '4096']);
  keys.rsa1024 = generateKey(dir, 'rsa1024', ['-t', 'rsa', '-b', '1024']);
  keys.skEd25519 = fidoFromEd25519(keys.ed25519);
  keys.skEcdsa = fidoFromEcdsa256(keys.ecdsa256);
  generateKey(dir, 'ca', ['-t', 'ed25519']);
  execFileSync('ssh-keygen', [
    '-q',
    '-s',
    join(dir, 'ca'),
    '-I',
    'cert',
    '-n',
    'borg',
    join(dir, 'ed25519.pub'),
  ]);
  keys.cert = readFileSync(join(dir, 'ed25519-cert.pub'), 'utf8').trim();
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('parsePublicKey accepted types', () => {
  it.each([
    ['ed25519', 'ssh-ed25519', 256],
    ['ecdsa256', 'ecdsa-sha2-nistp256', 256],
    ['ecdsa384', 'ecdsa-sha2-nistp384', 384],
    ['ecdsa521', 'ecdsa-sha2-nistp521', 521],
    ['rsa2048', 'ssh-rsa', 2048],
    ['rsa4096', 'ssh-rsa', 4096],
    ['skEd25519', 'sk-ssh-ed25519@openssh.com', 256],
    ['skEcdsa', 'sk-ecdsa-sha2-nistp256@openssh.com', 256],
  ])('%s parses', (name, type, bits) => {
    const key = parsePublicKey(keys[name]!);
    expect(key.type).toBe(type);
    expect(key.bits).toBe(bits);
    expect(formatPublicKey(key)).toBe(keys[name]);
  });

  it.each([
    'ed25519',
    'ecdsa256',
    'ecdsa384',
    'ecdsa521',
    'rsa2048',
    'rsa4096',
    'skEd25519',
    'skEcdsa',
  ])('%s fingerprint matches ssh-keygen', (name) => {
    const file = join(dir, `${name}.fp.pub`);
    writeFileSync(file, `${keys[name]}\n`);
    expect(parsePublicKey(keys[name]!).fingerprint).toBe(keygenFingerprint(file));
  });

  it('comment whitespace collapses', () => {
    const [type, base64] = keys.ed25519!.split(' ');
    const key = parsePublicKey(`  ${type}\t${base64}   alice  laptop \n`);
    expect(key.comment).toBe('alice laptop');
  });

  it('missing comment is empty', () => {
    const [type, base64] = keys.ed25519!.split(' ');
    expect(parsePublicKey(`${type} ${base64}`).comment).toBe('');
  });
});

describe('parsePublicKey rejections', () => {
  const ed = () => keys.ed25519!.split(' ') as [string, string, string];

  it.each([
    [
      'command option',
      () => `command="/bin/sh" ${keys.ed25519}`,
      /options "command=\\"\/bin\/sh\\"" are in front/,
    ],
    ['no-pty option', () => `no-pty ${keys.rsa2048}`, /options "no-pty" are in front/],
    [
      'quoted option with spaces',
      () => `from="a b",no-pty ${keys.ed25519}`,
      /options .* are in front/,
    ],
    ['option alone', () => 'restrict AAAAC3NzaC1lZDI1NTE5', /options "restrict" are in front/],
    ['DSA', () => 'ssh-dss AAAAB3NzaC1kc3MAAACBAP', /DSA keys \(ssh-dss\)/],
    ['certificate', () => keys.cert!, /certificates .* are not accepted/],
    ['unknown type', () => `ssh-foo ${ed()[1]}`, /unsupported key type "ssh-foo"/],
    ['missing type', () => ed()[1], /key type is missing/],
    ['empty', () => '   ', /key is empty/],
    ['type only', () => 'ssh-ed25519', /no base64 data/],
    ['truncated base64', () => `ssh-ed25519 ${ed()[1].slice(0, 50)}`, /truncated/],
    [
      'truncated blob',
      () => `ssh-rsa ${keys.rsa2048!.split(' ')[1]!.slice(0, 200)}`,
      /truncated or damaged/,
    ],
    ['not base64', () => 'ssh-ed25519 AAAA$$$$', /is not base64/],
    ['RSA 1024', () => keys.rsa1024!, /RSA key has 1024 bits, fewer than 2048/],
    [
      'type mismatch',
      () => `ssh-rsa ${ed()[1]}`,
      /"ssh-rsa" does not match the type "ssh-ed25519"/,
    ],
    ['newline in comment', () => `${keys.ed25519} x\ncommand="sh" ${keys.rsa2048}`, /line break/],
    ['carriage return', () => `${keys.ed25519} x\rno-pty`, /line break/],
    ['line separator', () => `${keys.ed25519} x\u2028y`, /line break/],
    ['escape in comment', () => `${keys.ed25519} \u001b[2Jx`, /U\+001B/],
    ['NUL in comment', () => `${keys.ed25519} a\u0000b`, /U\+0000/],
    ['bidi override', () => `${keys.ed25519} \u202eevil`, /U\+202E/],
    ['OpenSSH private key', () => '-----BEGIN OPENSSH PRIVATE KEY-----', /this is a private key/],
    ['PEM private key', () => '-----BEGIN RSA PRIVATE KEY----- MIIE', /this is a private key/],
    ['PuTTY private key', () => 'PuTTY-User-Key-File-3: ssh-ed25519', /this is a private key/],
    ['private key body', () => 'b3BlbnNzaC1rZXktdjEAAAAABG5vbmU=', /this is a private key/],
    ['RFC 4716', () => '---- BEGIN SSH2 PUBLIC KEY ----', /RFC 4716/],
  ])('%s', (_name, text, message) => {
    expect(() => parsePublicKey(text(), 'client "web1" keys[0]')).toThrow(message);
  });

  it('error names the entry', () => {
    expect(() => parsePublicKey('ssh-dss AAAA', 'client "web1" keys[2]')).toThrow(
      /^client "web1" keys\[2\]: /,
    );
  });

  it('error class is PublicKeyError', () => {
    expect(() => parsePublicKey('ssh-foo AAAA')).toThrow(PublicKeyError);
  });

  it('private key text is not echoed', () => {
    const secret = '-----BEGIN OPENSSH PRIVATE KEY----- b3BlbnNzaC1rZXktdjEAAAAABG5vbmUSECRET';
    expect(() => parsePublicKey(secret)).toThrow(
      expect.objectContaining({ message: expect.not.stringContaining('SECRET') }),
    );
  });

  it('trailing bytes rejected', () => {
    const blob = Buffer.concat([Buffer.from(ed()[1], 'base64'), Buffer.from([0, 0, 0, 0])]);
    expect(() => parsePublicKey(`ssh-ed25519 ${blob.toString('base64')}`)).toThrow(
      /unexpected bytes/,
    );
  });

  it('non-canonical padding bits rejected', () => {
    // A 104-byte nistp256 blob ends in "X=": the digit X carries 2 bits that decoding drops,
    // so setting them spells the same key a second way.
    const base64 = keys.ecdsa256!.split(' ')[1]!;
    expect(base64.at(-1)).toBe('=');
    expect(base64.at(-2)).not.toBe('=');
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
    const digit = alphabet.indexOf(base64.at(-2)!);
    const tweaked = `${base64.slice(0, -2)}${alphabet[digit | 1]}=`;
    expect(Buffer.from(tweaked, 'base64').equals(Buffer.from(base64, 'base64'))).toBe(true);
    expect(() => parsePublicKey(`ecdsa-sha2-nistp256 ${tweaked}`)).toThrow(/padding bits/);
  });

  it('RSA leading zero rejected', () => {
    const reader = Buffer.from(keys.rsa2048!.split(' ')[1]!, 'base64');
    const exponentLength = reader.readUInt32BE(11);
    const exponent = reader.subarray(15, 15 + exponentLength);
    const rest = reader.subarray(15 + exponentLength);
    const padded = Buffer.concat([
      encodeString('ssh-rsa'),
      encodeString(Buffer.concat([Buffer.from([0]), exponent])),
      rest,
    ]);
    expect(() => parsePublicKey(`ssh-rsa ${padded.toString('base64')}`)).toThrow(/leading zero/);
  });

  it('ECDSA point off curve rejected', () => {
    const blob = Buffer.from(keys.ecdsa256!.split(' ')[1]!, 'base64');
    blob[blob.length - 1] = blob[blob.length - 1]! ^ 0x01;
    expect(() => parsePublicKey(`ecdsa-sha2-nistp256 ${blob.toString('base64')}`)).toThrow(
      /not a valid public key|is invalid/,
    );
  });

  it('ECDSA curve mismatch rejected', () => {
    const blob = Buffer.from(keys.ecdsa256!.split(' ')[1]!, 'base64');
    const text = blob.toString('latin1');
    const curveAt = text.lastIndexOf('nistp256');
    const swapped = Buffer.from(
      `${text.slice(0, curveAt)}nistp384${text.slice(curveAt + 8)}`,
      'latin1',
    );
    expect(() => parsePublicKey(`ecdsa-sha2-nistp256 ${swapped.toString('base64')}`)).toThrow(
      /names the curve "nistp384"/,
    );
  });

  it('FIDO application without ssh: rejected', () => {
    expect(() => parsePublicKey(fidoFromEd25519(keys.ed25519!, 'https://x'))).toThrow(/"ssh:"/);
    expect(() => parsePublicKey(fidoFromEcdsa256(keys.ecdsa256!, 'web'))).toThrow(/"ssh:"/);
  });
});
