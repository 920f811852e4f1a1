import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { encode } from '@msgpack/msgpack';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type GateFixture, sshOptions, startGate } from './harness/gate.js';
import { borgServeProcesses, exitOf, gateProcesses, waitFor } from './harness/processes.js';

const NEGOTIATE = encode([1, 1, 'negotiate', [{ client_version: [1, 2, 4, -1] }]]);

// A client with one repository has borg started before the handshake. A signal to the gate in
// that time must end both at once, with nothing from borg on the client's stdout or stderr.
describe('signal to the gate during the handshake', () => {
  let gate: GateFixture;
  let repo: string;

  beforeAll(async () => {
    gate = await startGate();
    repo = join(gate.dir, 'repo');
    mkdirSync(repo);
    gate.writePolicy({
      clients: [{ id: 'host', keys: [gate.key('host').publicLine], repositories: [repo] }],
    });
  });

  afterAll(async () => {
    await gate?.close();
  });

  it.each(['SIGTERM', 'SIGHUP'] as const)('%s ends the early borg unheard', async (signal) => {
    const client = spawn(
      'ssh',
      [
        ...sshOptions(gate.key('host').privateKey),
        '-p',
        String(gate.sshd.port),
        `${gate.sshd.user}@127.0.0.1`,
        'borg serve --info',
      ],
      { stdio: ['pipe', 'pipe', 'pipe'] },
    );

    const stdout: Buffer[] = [];
    let stderr = '';
    client.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
    client.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });

    client.stdin.write(NEGOTIATE);
    // The negotiate reply means the gate is reading the handshake; borg runs by then.
    await waitFor(() => stdout.length > 0, 20_000, 'negotiate reply');
    await waitFor(() => borgServeProcesses(repo).length === 1, 20_000, 'early borg');

    const [gateProcess] = gateProcesses(gate.policyFile);
    expect(gateProcess).toBeDefined();
    process.kill(gateProcess!.pid, signal);
    // A client that goes on must not reach a session: the gate ended with the signal.
    await new Promise((resolve) => setTimeout(resolve, 300));
    client.stdin.end(encode({ i: 2, m: 'open', a: { path: repo, create: false, lock: true } }));
    await exitOf(client);

    await waitFor(() => borgServeProcesses(repo).length === 0, 10_000, 'no borg serve');
    // Only the gate's 25-byte negotiate reply: borg printed nothing on stdout...
    expect(Buffer.concat(stdout).length).toBe(25);
    // ...nor on stderr (borg reports a signal or an early end of input there).
    expect(stderr).not.toMatch(/Received|Got connection close|Remote/);
    expect(gate.auditRecords().filter((record) => record.event === 'session_start')).toEqual([]);
  });
});
