import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { encodeString } from '../../../src/lib/authorized-keys/ssh-wire.js';

/** Generates a key pair with the real ssh-keygen and returns the `.pub` line. */
export function generateKey(dir: string, name: string, args: string[]): string {
  const file = join(dir, name);
  execFileSync('ssh-keygen', ['-q', '-N', '', '-C', `${name}@test`, '-f', file, ...args]);
  return readFileSync(`${file}.pub`, 'utf8').trim();
}

/** Returns the fingerprint that `ssh-keygen -lf` prints for a `.pub` file. */
export function keygenFingerprint(pubFile: string): string {
  const output = execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', pubFile], {
    encoding: 'utf8',
  });
  return output.split(' ')[1]!;
}

/**
 * Builds FIDO public keys from software keys: the blob layout is the plain key plus an
 * application string, so ssh-keygen can fingerprint them without a security key attached.
 */
export function fidoFromEd25519(ed25519Line: string, application = 'ssh:'): string {
  const blob = Buffer.from(ed25519Line.split(' ')[1]!, 'base64');
  const point = blob.subarray(4 + 11 + 4);
  const type = 'sk-ssh-ed25519@openssh.com';
  const fido = Buffer.concat([encodeString(type), encodeString(point), encodeString(application)]);
  return `${type} ${fido.toString('base64')} fido-ed25519@test`;
}

export function fidoFromEcdsa256(ecdsaLine: string, application = 'ssh:'): string {
  const blob = Buffer.from(ecdsaLine.split(' ')[1]!, 'base64');
  const afterType = 4 + 'ecdsa-sha2-nistp256'.length;
  const afterCurve = afterType + 4 + 'nistp256'.length;
  const point = blob.subarray(afterCurve + 4);
  const type = 'sk-ecdsa-sha2-nistp256@openssh.com';
  const fido = Buffer.concat([
    encodeString(type),
    encodeString('nistp256'),
    encodeString(point),
    encodeString(application),
  ]);
  return `${type} ${fido.toString('base64')} fido-ecdsa@test`;
}
