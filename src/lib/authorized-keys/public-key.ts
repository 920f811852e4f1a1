import { createPublicKey } from 'node:crypto';
import keyParser from 'ssh2/lib/protocol/keyParser.js';
import { blobFingerprint } from './fingerprint.js';
import { encodeMpint, encodeString, WireFormatError, WireReader } from './ssh-wire.js';

/** Key types a policy may list. */
export const ACCEPTED_KEY_TYPES = [
  'ssh-ed25519',
  'sk-ssh-ed25519@openssh.com',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521',
  'sk-ecdsa-sha2-nistp256@openssh.com',
  'ssh-rsa',
] as const;
export type KeyType = (typeof ACCEPTED_KEY_TYPES)[number];

/** Minimum RSA modulus size. OpenSSH 9.2 itself only rejects RSA keys under 1024 bits. */
export const MIN_RSA_BITS = 2048;

export interface PublicKey {
  readonly type: KeyType;
  /** Canonical base64 of the blob: the parsed fields re-encode to exactly this text. */
  readonly base64: string;
  /** Key blob, decoded anew on each access so a caller cannot change the key. */
  readonly blob: Buffer;
  /** Comment with whitespace runs collapsed to one space, or empty when the key has none. */
  readonly comment: string;
  /** SHA-256 fingerprint as `ssh-keygen -l` prints it: `SHA256:` and unpadded base64. */
  readonly fingerprint: string;
  readonly bits: number;
}

export class PublicKeyError extends Error {
  override name = 'PublicKeyError';
}

const CERTIFICATE_SUFFIX = '-cert-v01@openssh.com';
const ECDSA_CURVES: Record<string, { curve: string; pointBytes: number; bits: number }> = {
  'ecdsa-sha2-nistp256': { curve: 'nistp256', pointBytes: 65, bits: 256 },
  'ecdsa-sha2-nistp384': { curve: 'nistp384', pointBytes: 97, bits: 384 },
  'ecdsa-sha2-nistp521': { curve: 'nistp521', pointBytes: 133, bits: 521 },
  'sk-ecdsa-sha2-nistp256@openssh.com': { curve: 'nistp256', pointBytes: 65, bits: 256 },
};
const OPTION_NAMES =
  /^(agent-forwarding|cert-authority|command|environment|expiry-time|from|no-agent-forwarding|no-port-forwarding|no-pty|no-user-rc|no-x11-forwarding|no-touch-required|permitlisten|permitopen|port-forwarding|principals|pty|restrict|tunnel|user-rc|verify-required|x11-forwarding)\b/i;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/**
 * Parses one OpenSSH public key line (`type base64 [comment]`) and re-encodes it from its blob.
 * `label` names the policy entry (`client "web1" keys[0]`) in error messages; a function is
 * called only when there is an error.
 */
export function parsePublicKey(text: string, label: string | (() => string) = 'key'): PublicKey {
  const line = text.replace(/[\s]+$/, '').replace(/^[ \t]+/, '');
  const fail = (reason: string, cause?: unknown): never => {
    const where = typeof label === 'string' ? label : label();
    throw new PublicKeyError(`${where}: ${reason}`, cause === undefined ? undefined : { cause });
  };
  rejectNonKeyText(line, fail);

  const words = line.split(/[ \t]+/);
  const [typeWord = '', base64 = ''] = words;
  checkTypeWord(typeWord, words, line, fail);
  const type = typeWord as KeyType;
  const bits = isCanonicalEd25519(type, base64)
    ? 256
    : checkKeyBlob(type, decodeBase64(base64, fail), fail);

  const comment = line.slice(typeWord.length).trimStart().slice(base64.length).trim();
  // Either check above ensures that the blob re-encodes to exactly this base64 text.
  return new ParsedPublicKey(type, base64, comment.replace(/[ \t]+/g, ' '), bits);
}

/** A checked key. The blob and fingerprint are derived on use, so parsed keys hold no Buffer. */
class ParsedPublicKey implements PublicKey {
  #fingerprint: string | undefined;

  constructor(
    readonly type: KeyType,
    readonly base64: string,
    readonly comment: string,
    readonly bits: number,
  ) {}

  get blob(): Buffer {
    return Buffer.from(this.base64, 'base64');
  }

  get fingerprint(): string {
    this.#fingerprint ??= fingerprintOf(this.blob);
    return this.#fingerprint;
  }
}

/**
 * Base64 of a plain Ed25519 blob, 51 bytes and so 68 characters without padding. The prefix
 * encodes the type string and the first six bits of the point length 32. The next character
 * carries the length's last two bits, which must be zero, so it is one of A-P.
 */
const ED25519_BASE64 = /^AAAAC3NzaC1lZDI1NTE5AAAAI[A-P][A-Za-z0-9+/]{42}$/;

/**
 * Returns true when `base64` is a canonical plain Ed25519 blob: the type string, the length 32
 * and 32 bytes. It accepts exactly the texts that decodeBase64 and checkKeyBlob accept for
 * this type, without the buffers that took most of the parse time for 100,000 keys.
 */
export function isCanonicalEd25519(type: string, base64: string): boolean {
  return type === 'ssh-ed25519' && ED25519_BASE64.test(base64);
}

/** Decodes and checks a key blob of any accepted type; returns its size in bits. */
function checkKeyBlob(
  type: KeyType,
  blob: Buffer,
  fail: (reason: string, cause?: unknown) => never,
): number {
  let decoded: DecodedKey;
  try {
    decoded = decodeBlob(type, blob);
  } catch (error) {
    if (error instanceof WireFormatError) {
      return fail(`${type} key blob is truncated or damaged (${error.message})`, error);
    }
    if (error instanceof PublicKeyError) {
      return fail(error.message, error);
    }
    throw error;
  }
  if (!decoded.canonical.equals(blob)) {
    fail(
      `${type} key blob is not in canonical form; copy the key again from the client's .pub file`,
    );
  }
  // For Ed25519, ssh2 checks only the 32-byte length that decodeBlob checked already, and its
  // PEM conversion would dominate `keys render` for 100,000 clients.
  if (decoded.plainType !== 'ssh-ed25519') {
    confirmWithSsh2(decoded, fail);
  }
  if (type === 'ssh-rsa' && decoded.bits < MIN_RSA_BITS) {
    fail(
      `RSA key has ${decoded.bits} bits, fewer than ${MIN_RSA_BITS}; generate a new key with "ssh-keygen -t ed25519"`,
    );
  }
  return decoded.bits;
}

/** Computes the SHA-256 fingerprint of a key blob as `ssh-keygen -l` prints it. */
export const fingerprintOf = blobFingerprint;

/** Formats a key as a `.pub` line: type, base64 and the comment when there is one. */
export function formatPublicKey(key: PublicKey): string {
  return key.comment === ''
    ? `${key.type} ${key.base64}`
    : `${key.type} ${key.base64} ${key.comment}`;
}

function rejectNonKeyText(line: string, fail: (reason: string) => never): void {
  if (line === '') {
    fail('key is empty');
  }
  // A private key pasted into the policy must not be echoed back into error output or logs.
  if (/PRIVATE KEY-----|PuTTY-User-Key-File-|^b3BlbnNzaC1rZXktdjE/.test(line)) {
    fail(
      'this is a private key, not a public key; use the ".pub" file instead, and treat the private key as exposed if it was stored or sent where others could read it',
    );
  }
  if (line.startsWith('---- BEGIN SSH2 PUBLIC KEY')) {
    fail('key is in RFC 4716 format; convert it with "ssh-keygen -i -f FILE" and paste the result');
  }
  // A line break inside one entry would let a comment start a second authorized_keys line.
  const lineBreak = /[\r\n\u0085\u2028\u2029]/.exec(line);
  if (lineBreak !== null) {
    fail('key contains a line break; each entry holds exactly one key on one line');
  }
  // Control and bidirectional-override characters could hide text from an admin reading the file.
  // biome-ignore lint/suspicious/noControlCharactersInRegex: this check looks for control characters.
  const control = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/.exec(line);
  if (control !== null) {
    const codePoint = control[0].codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0');
    fail(`key contains the control character U+${codePoint}; remove it from the comment`);
  }
}

function checkTypeWord(
  typeWord: string,
  words: string[],
  line: string,
  fail: (reason: string) => never,
): void {
  if ((ACCEPTED_KEY_TYPES as readonly string[]).includes(typeWord)) {
    return;
  }
  const typeIndex = words.findIndex((word) => isKnownTypeWord(word));
  // Options written into the policy would sit in front of borg-gate's own command= and restrict.
  if (typeIndex > 0 || OPTION_NAMES.test(typeWord)) {
    const options = typeIndex > 0 ? line.slice(0, line.indexOf(` ${words[typeIndex]}`)) : typeWord;
    fail(
      `authorized_keys options ${quote(options)} are in front of the key; list only "type base64 comment", borg-gate writes the options itself`,
    );
  }
  if (typeWord === 'ssh-dss') {
    fail(
      'DSA keys (ssh-dss) are limited to 1024 bits and disabled by default since OpenSSH 7.0; generate a new key with "ssh-keygen -t ed25519"',
    );
  }
  if (typeWord.endsWith(CERTIFICATE_SUFFIX)) {
    fail(
      `certificates (${quote(typeWord)}) are not accepted because their own principals, validity and options would bypass the per-client policy; list the client's plain public key (the .pub file without -cert)`,
    );
  }
  if (/^AAAA[A-Za-z0-9+/]/.test(typeWord)) {
    fail('key type is missing in front of the base64 data; copy the whole line from the .pub file');
  }
  fail(`unsupported key type ${quote(typeWord)}; accepted types: ${ACCEPTED_KEY_TYPES.join(', ')}`);
}

function isKnownTypeWord(word: string): boolean {
  return (
    (ACCEPTED_KEY_TYPES as readonly string[]).includes(word) ||
    word === 'ssh-dss' ||
    /^(ssh|ecdsa|sk)-[a-z0-9@.-]+-cert-v01@openssh\.com$/.test(word)
  );
}

function decodeBase64(base64: string, fail: (reason: string) => never): Buffer {
  if (base64 === '') {
    fail('key has a type but no base64 data');
  }
  if (!BASE64.test(base64)) {
    fail(`key data ${quote(base64.slice(0, 24))}... is not base64`);
  }
  if (base64.length % 4 !== 0) {
    fail(`key data is truncated: ${base64.length} base64 characters is not a multiple of 4`);
  }
  const blob = Buffer.from(base64, 'base64');
  if (blob.toString('base64') !== base64) {
    fail('key data is damaged: its base64 padding bits are not zero');
  }
  return blob;
}

interface DecodedKey {
  type: KeyType;
  canonical: Buffer;
  bits: number;
  /** Blob of the plain key that ssh2 can parse: the key itself, or the inner key of a FIDO key. */
  plainType: string;
  plainBlob: Buffer;
}

function decodeBlob(type: KeyType, blob: Buffer): DecodedKey {
  const reader = new WireReader(blob);
  const blobType = reader.readText('key type');
  if (blobType !== type) {
    throw new PublicKeyError(
      `key type word ${quote(type)} does not match the type ${quote(blobType)} inside the key data`,
    );
  }
  if (type === 'ssh-rsa') {
    return decodeRsa(reader);
  }
  if (type === 'ssh-ed25519' || type === 'sk-ssh-ed25519@openssh.com') {
    return decodeEd25519(type, reader);
  }
  return decodeEcdsa(type, reader);
}

function decodeRsa(reader: WireReader): DecodedKey {
  const type = 'ssh-rsa';
  const exponent = reader.readPositiveMpint('RSA exponent');
  const modulus = reader.readPositiveMpint('RSA modulus');
  reader.expectEnd();
  const canonical = Buffer.concat([
    encodeString(type),
    encodeMpint(exponent),
    encodeMpint(modulus),
  ]);
  const bits = modulus.toString(2).length;
  return { type, canonical, bits, plainType: type, plainBlob: canonical };
}

function decodeEd25519(type: KeyType, reader: WireReader): DecodedKey {
  const point = reader.readString('Ed25519 public key');
  if (point.length !== 32) {
    throw new PublicKeyError(`Ed25519 public key has ${point.length} bytes instead of 32`);
  }
  const plainBlob = Buffer.concat([encodeString('ssh-ed25519'), encodeString(point)]);
  const application = type === 'ssh-ed25519' ? undefined : readApplication(reader);
  reader.expectEnd();
  const canonical =
    application === undefined
      ? plainBlob
      : Buffer.concat([encodeString(type), encodeString(point), encodeString(application)]);
  return { type, canonical, bits: 256, plainType: 'ssh-ed25519', plainBlob };
}

function decodeEcdsa(type: KeyType, reader: WireReader): DecodedKey {
  const curve = ECDSA_CURVES[type]!;
  const curveName = reader.readText('curve name');
  if (curveName !== curve.curve) {
    throw new PublicKeyError(
      `${type} key names the curve ${quote(curveName)} instead of ${curve.curve}`,
    );
  }
  const point = reader.readString('ECDSA point');
  if (point.length !== curve.pointBytes || point[0] !== 0x04) {
    throw new PublicKeyError(`ECDSA point is not an uncompressed ${curve.curve} point`);
  }
  const plainType = `ecdsa-sha2-${curve.curve}`;
  const plainBlob = Buffer.concat([
    encodeString(plainType),
    encodeString(curveName),
    encodeString(point),
  ]);
  const application = type.startsWith('sk-') ? readApplication(reader) : undefined;
  reader.expectEnd();
  const canonical =
    application === undefined
      ? plainBlob
      : Buffer.concat([
          encodeString(type),
          encodeString(curveName),
          encodeString(point),
          encodeString(application),
        ]);
  return { type, canonical, bits: curve.bits, plainType, plainBlob };
}

function readApplication(reader: WireReader): Buffer {
  const application = reader.readString('FIDO application');
  // OpenSSH only creates FIDO keys whose application string starts with "ssh:".
  if (!application.toString('latin1').startsWith('ssh:')) {
    throw new PublicKeyError('FIDO key application does not start with "ssh:"');
  }
  return application;
}

/** Cross-checks the key material with ssh2, and lets OpenSSL reject ECDSA points off the curve. */
function confirmWithSsh2(
  decoded: DecodedKey,
  fail: (reason: string, cause?: unknown) => never,
): void {
  const parsed = keyParser.parseKey(`${decoded.plainType} ${decoded.plainBlob.toString('base64')}`);
  if (parsed instanceof Error) {
    fail(`${decoded.type} key is invalid: ${parsed.message}`, parsed);
  }
  if (!parsed.getPublicSSH().equals(decoded.plainBlob)) {
    fail(`${decoded.type} key does not survive a re-encoding round trip`);
  }
  // Only an ECDSA point can be invalid beyond the blob layout, and OpenSSL costs about 0.2 ms
  // a key, which adds up to seconds for 100,000 clients.
  if (!decoded.plainType.startsWith('ecdsa-')) {
    return;
  }
  try {
    createPublicKey(parsed.getPublicPEM());
  } catch (error) {
    fail(`${decoded.type} key is not a valid public key: ${(error as Error).message}`, error);
  }
}

function quote(value: string): string {
  return JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}...` : value);
}
