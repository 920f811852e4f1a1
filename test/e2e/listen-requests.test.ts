import { spawn } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { createConnection, createServer, type Server } from 'node:net';
import { join } from 'node:path';
import ssh2 from 'ssh2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ListenFixture, run, startListen } from './harness/listen.js';
import { freePort } from './harness/sshd.js';

// Everything an SSH client may ask for besides exec is refused and logged.
describe('non-exec requests through listen', () => {
  let server: ListenFixture;
  let target: string;
  /** A local TCP service that a forwarding request would reach if it were allowed. */
  let bait: Server;
  let baitPort: number;
  let baitConnections = 0;

  beforeAll(async () => {
    server = await startListen();
    target = join(server.dir, 'target');
    mkdirSync(target);
    server.writePolicy({
      clients: [
        {
          id: 'app',
          keys: [server.key('app').publicLine],
          repositories: [join(server.dir, 'repo')],
        },
      ],
    });
    bait = createServer((socket) => {
      baitConnections += 1;
      socket.end('bait\n');
    });
    await new Promise<void>((resolve) => bait.listen(0, '127.0.0.1', resolve));
    baitPort = (bait.address() as { port: number }).port;
  });

  afterAll(async () => {
    bait?.close();
    await server?.close();
  });

  it('shell is an interactive login', async () => {
    const before = server.auditRecords().length;
    const result = await server.ssh('app', [], '', ['-T']);
    expect(result.stderr).toContain('borg-gate: interactive login is not permitted');
    expect(result.stdout).toBe('');
    expect(result.code).toBe(1);
    const records = server.auditRecords().slice(before);
    expect(records).toHaveLength(1);
    expect(String(records[0]?.reason)).toMatch(/^interactive-login/);
  });

  it('pty request is refused', async () => {
    const result = await server.ssh('app', ['id'], '', ['-tt']);
    expect(result.code).not.toBe(0);
    expect(result.stdout).not.toContain('uid=');
    await server.waitForLog(
      (record) => record.event === 'request_refused' && record.request === 'pty',
    );
  });

  it('sftp subsystem is refused', async () => {
    const result = await run(
      'sftp',
      [
        '-b',
        '-',
        ...server.sshArgs('app').map((arg) => (arg === '-p' ? '-P' : arg)),
        'borg@127.0.0.1',
      ],
      {
        input: `put ${server.policyFile} ${target}/copy\n`,
        timeoutMs: 20_000,
      },
    );
    expect(result.code).not.toBe(0);
    expect(readdirSync(target)).toEqual([]);
    await server.waitForLog(
      (record) => record.event === 'request_refused' && record.request === 'sftp',
    );
  });

  it('env request is refused', async () => {
    const result = await server.ssh('app', ['borg', 'serve'], '', [
      '-o',
      'SetEnv=BORG_GATE_TEST=1',
    ]);
    expect(result.code).not.toBe(0);
    const record = await server.waitForLog(
      (entry) => entry.event === 'request_refused' && entry.request === 'env',
    );
    expect(record.detail).toBe('BORG_GATE_TEST');
  });

  it('remote forwarding is refused', async () => {
    const result = await server.ssh('app', [], undefined, [
      '-N',
      '-o',
      'ExitOnForwardFailure=yes',
      '-R',
      `127.0.0.1:0:127.0.0.1:${baitPort}`,
    ]);
    expect(result.code).toBe(255);
    expect(result.stderr).toContain('remote port forwarding failed');
    const record = await server.waitForLog(
      (entry) => entry.event === 'request_refused' && entry.request === 'tcpip-forward',
    );
    expect(record.client_id).toBe('app');
  });

  it('local forwarding is refused', async () => {
    const localPort = await freePort();
    const ssh = spawn(
      'ssh',
      [
        ...server.sshArgs('app'),
        '-N',
        '-L',
        `127.0.0.1:${localPort}:127.0.0.1:${baitPort}`,
        'borg@127.0.0.1',
      ],
      {
        stdio: 'ignore',
      },
    );
    try {
      const received = await readFromForward(localPort);
      expect(received).toBe('');
      const record = await server.waitForLog(
        (entry) => entry.event === 'request_refused' && entry.request === 'direct-tcpip',
      );
      expect(record.detail).toBe(`127.0.0.1:${baitPort}`);
      expect(baitConnections).toBe(0);
    } finally {
      ssh.kill();
    }
  });

  it('second request on a session is dropped', async () => {
    // OpenSSH never sends this, so ssh2's own client sends a shell request after exec.
    await shellAfterExec(server.port, server.key('app').privateKey);
    expect(server.process.exitCode).toBeNull();
    const result = await server.ssh('app', ['id']);
    expect(result.stderr).toContain('borg-gate: only borg serve requests are permitted');
  });
});

/** Opens an exec channel, sends a shell request on the same channel, then closes it. */
function shellAfterExec(port: number, privateKeyFile: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const client = new ssh2.Client();
    client.on('error', reject);
    client.on('ready', () => {
      client.exec('borg serve', (error, stream) => {
        if (error) {
          reject(error);
          return;
        }
        const internals = client as unknown as {
          _protocol: { shell(id: number, reply: boolean): void };
        };
        const outgoing = (stream as unknown as { outgoing: { id: number } }).outgoing;
        stream.on('close', () => {
          client.end();
          resolve();
        });
        stream.resume();
        stream.stderr.resume();
        internals._protocol.shell(outgoing.id, false);
        setTimeout(() => stream.end(), 500);
      });
    });
    client.connect({
      host: '127.0.0.1',
      port,
      username: 'borg',
      privateKey: readFileSync(privateKeyFile),
    });
  });
}

/** Connects to the ssh client's forwarded port, retrying until it listens, and reads until close. */
async function readFromForward(port: number): Promise<string> {
  for (let attempt = 0; attempt < 50; attempt += 1) {
    const result = await new Promise<string | undefined>((resolve) => {
      const socket = createConnection({ host: '127.0.0.1', port });
      let data = '';
      socket.on('data', (chunk) => {
        data += chunk.toString();
      });
      socket.on('error', () => resolve(undefined));
      socket.on('close', () => resolve(data));
    });
    if (result !== undefined) {
      return result;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`ssh never listened on 127.0.0.1:${port}`);
}
