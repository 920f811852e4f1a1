// A throw-away OpenSSH server on 127.0.0.1 for the figures that go through ssh.
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { stopProcess } from './process.mjs';

/** Returns a loopback port that was free a moment ago; sshd binds it right after. */
function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** Creates an ed25519 key pair without a passphrase and returns its paths and public line. */
export function makeKey(dir, name) {
  const privateKey = join(dir, `id_${name}`);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', name, '-f', privateKey]);
  return { privateKey, publicLine: readFileSync(`${privateKey}.pub`, 'utf8').trim() };
}

function configLines(dir, port, hostKey, authorizedKeys) {
  return [
    `Port ${port}`,
    'ListenAddress 127.0.0.1',
    `HostKey ${hostKey}`,
    `PidFile ${join(dir, 'sshd.pid')}`,
    `AuthorizedKeysFile ${authorizedKeys}`,
    'UsePAM no',
    'StrictModes no',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'PermitRootLogin forced-commands-only',
    'PermitUserEnvironment no',
    'ExposeAuthInfo yes',
    'PermitTTY no',
    'MaxStartups 100',
    'LogLevel ERROR',
  ];
}

/** Starts sshd with `authorizedKeysText`; resolves once it listens. */
export async function startSshd(dir, authorizedKeysText) {
  mkdirSync(dir, { recursive: true });
  const port = await freePort();
  const hostKey = join(dir, 'ssh_host_ed25519_key');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', hostKey]);
  const authorizedKeys = join(dir, 'authorized_keys');
  writeFileSync(authorizedKeys, authorizedKeysText, { mode: 0o600 });
  const config = join(dir, 'sshd_config');
  writeFileSync(config, `${configLines(dir, port, hostKey, authorizedKeys).join('\n')}\n`);
  if (process.getuid?.() === 0) {
    // sshd's privilege separation directory; Debian creates it only when the service starts.
    mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
  }
  // -e with LogLevel ERROR: only errors reach stderr, and the listen line is not printed.
  const child = spawn('/usr/sbin/sshd', ['-D', '-e', '-f', config], { stdio: 'ignore' });
  await waitForPort(port, child);
  return {
    port,
    user: userInfo().username,
    stop: () => stopProcess(child),
  };
}

async function waitForPort(port, child) {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) {
      throw new Error(`sshd exited with code ${child.exitCode} before listening on ${port}`);
    }
    if (await canConnect(port)) {
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  child.kill('SIGKILL');
  throw new Error(`sshd did not listen on 127.0.0.1:${port} within 10 s`);
}

function canConnect(port) {
  return new Promise((resolve) => {
    const socket = createConnection(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** ssh client options: no user config, no host key prompts, no agent, this key only. */
export function sshOptions(privateKey) {
  return [
    '-F',
    '/dev/null',
    '-i',
    privateKey,
    '-o',
    'IdentitiesOnly=yes',
    '-o',
    'StrictHostKeyChecking=no',
    '-o',
    'UserKnownHostsFile=/dev/null',
    '-o',
    'BatchMode=yes',
    '-o',
    'LogLevel=ERROR',
  ];
}
