// Temp directories, generated policies and borg protocol bytes shared by the figures.
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export function makeTempDir(prefix) {
  const dir = mkdtempSync(join('/tmp', `borg-gate-bench-${prefix}-`));
  chmodSync(dir, 0o755);
  return dir;
}

export function removeDir(dir) {
  rmSync(dir, { recursive: true, force: true });
}

/** Returns a random `ssh-ed25519 BASE64` public key; nothing ever authenticates with it. */
export function randomPublicKey() {
  const type = Buffer.from('ssh-ed25519');
  const blob = Buffer.alloc(4 + type.length + 4 + 32);
  blob.writeUInt32BE(type.length, 0);
  type.copy(blob, 4);
  blob.writeUInt32BE(32, 4 + type.length);
  randomBytes(32).copy(blob, 8 + type.length);
  return `ssh-ed25519 ${blob.toString('base64')}`;
}

export function clientId(index) {
  return `client-${String(index).padStart(5, '0')}`;
}

/**
 * Writes a policy with `count` append-only clients, one key and one repository each, in the
 * layout `keys add` produces. Returns the file and the last client, which a lookup reaches last.
 */
export function writePolicy(
  dir,
  { count, borgBinary, auditLog, stateDir, extraClients = [], lastSecondRepository = false },
) {
  const lines = [
    'version: 1',
    'borg:',
    '  binaries:',
    `    borg: ${borgBinary}`,
    `audit_log: ${auditLog}`,
    `state_dir: ${stateDir}`,
    'clients:',
  ];
  let last;
  for (let index = 0; index < count; index += 1) {
    const id = clientId(index);
    last = { id, key: randomPublicKey(), repository: join(dir, 'repos', id) };
    if (lastSecondRepository && index === count - 1) last.second = `${last.repository}-second`;
    lines.push(...clientLines(last));
  }
  for (const client of extraClients) {
    lines.push(...clientLines(client));
  }
  const file = join(dir, 'policy.yaml');
  writeFileSync(file, `${lines.join('\n')}\n`, { mode: 0o600 });
  return { file, last };
}

function clientLines(client) {
  return [
    `  - id: ${client.id}`,
    '    keys:',
    `      - ${client.key} ${client.id}@bench`,
    '    repositories:',
    `      - path: ${client.repository}`,
    '        name: main',
    ...(client.second === undefined ? [] : [`      - path: ${client.second}`]),
    `    mode: ${client.mode ?? 'append-only'}`,
  ];
}

function packString(text) {
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length < 32) {
    return Buffer.concat([Buffer.from([0xa0 | bytes.length]), bytes]);
  }
  if (bytes.length < 256) {
    return Buffer.concat([Buffer.from([0xd9, bytes.length]), bytes]);
  }
  return Buffer.concat([Buffer.from([0xda, bytes.length >> 8, bytes.length & 0xff]), bytes]);
}

/**
 * Returns the first two messages a borg 1.2.4 client sends: `negotiate` in the legacy tuple
 * format, then `open` as a map with the keys in the client's order (i, m, a).
 */
export function borgHandshake(repositoryPath) {
  const negotiate = Buffer.concat([
    Buffer.from([0x94, 0x01, 0x01]),
    packString('negotiate'),
    Buffer.from([0x91, 0x81]),
    packString('client_version'),
    Buffer.from([0x94, 0x01, 0x02, 0x04, 0xff]),
  ]);
  const open = Buffer.concat([
    Buffer.from([0x83]),
    packString('i'),
    Buffer.from([0x02]),
    packString('m'),
    packString('open'),
    packString('a'),
    Buffer.from([0x87]),
    packString('path'),
    packString(repositoryPath),
    packString('create'),
    Buffer.from([0xc2]),
    packString('lock_wait'),
    Buffer.from([0x01]),
    packString('lock'),
    Buffer.from([0xc3]),
    packString('exclusive'),
    Buffer.from([0xc2]),
    packString('append_only'),
    Buffer.from([0xc2]),
    packString('make_parent_dirs'),
    Buffer.from([0xc2]),
  ]);
  return Buffer.concat([negotiate, open]);
}

export function ensureDir(path) {
  mkdirSync(path, { recursive: true });
  return path;
}
