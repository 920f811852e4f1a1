import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { userInfo } from 'node:os';
import { join } from 'node:path';

/** A throw-away OpenSSH server on 127.0.0.1 that accepts only the user running the tests. */
export interface Sshd {
  port: number;
  dir: string;
  user: string;
  authorizedKeysFile: string;
  /** Replaces the authorized_keys file that sshd reads on every login. */
  setAuthorizedKeys(text: string): void;
  stop(): Promise<void>;
}

export interface SshdOptions {
  /** Extra sshd_config lines, e.g. an AuthorizedKeysCommand. */
  extraConfig?: string[];
  /** Directory for the config, host key and authorized_keys; a new temp dir when absent. */
  dir?: string;
}

export async function startSshd(options: SshdOptions = {}): Promise<Sshd> {
  const dir = options.dir ?? mkdtempSync('/tmp/borg-gate-sshd-');
  const port = await freePort();
  const hostKey = join(dir, 'ssh_host_ed25519_key');
  const authorizedKeysFile = join(dir, 'authorized_keys');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', hostKey]);
  writeFileSync(authorizedKeysFile, '', { mode: 0o600 });
  const config = join(dir, 'sshd_config');
  writeFileSync(config, sshdConfig(dir, port, hostKey, authorizedKeysFile, options.extraConfig));
  if (process.getuid?.() === 0) {
    // sshd's privilege separation directory; Debian creates it only when the service starts.
    mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
  }
  const child = spawn('/usr/sbin/sshd', ['-D', '-e', '-f', config], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  await waitForListening(child);
  return {
    port,
    dir,
    user: userInfo().username,
    authorizedKeysFile,
    setAuthorizedKeys: (text) => writeFileSync(authorizedKeysFile, text, { mode: 0o600 }),
    stop: () => stopChild(child),
  };
}

function sshdConfig(
  dir: string,
  port: number,
  hostKey: string,
  authorizedKeysFile: string,
  extra: string[] = [],
): string {
  const lines = [
    `Port ${port}`,
    'ListenAddress 127.0.0.1',
    `HostKey ${hostKey}`,
    `PidFile ${join(dir, 'sshd.pid')}`,
    `AuthorizedKeysFile ${authorizedKeysFile}`,
    'UsePAM no',
    'StrictModes no',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'PermitRootLogin forced-commands-only',
    'PermitUserEnvironment no',
    'ExposeAuthInfo yes',
    'AllowTcpForwarding no',
    'AllowAgentForwarding no',
    'X11Forwarding no',
    'PermitTTY no',
    // Like a stock server, so sftp requests reach the forced command.
    'Subsystem sftp internal-sftp',
    'MaxStartups 200',
    'MaxSessions 200',
    'LogLevel INFO',
    ...extra,
  ];
  return `${lines.join('\n')}\n`;
}

/** Returns a port that was free a moment ago; sshd binds it right after. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function waitForListening(child: ChildProcess): Promise<void> {
  return new Promise((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`sshd did not start within 10 s: ${output}`));
    }, 10_000);
    child.stderr?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('Server listening')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`sshd exited with code ${code}: ${output}`));
    });
  });
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) {
    return Promise.resolve();
  }
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

/** Removes a fixture directory, ignoring files that are already gone. */
export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}
