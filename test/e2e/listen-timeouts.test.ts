import { createConnection, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ListenFixture, startListen } from './harness/listen.js';

// Connections that never log in, or log in and run nothing, are closed by the server.
describe('listen connection limits', () => {
  let server: ListenFixture;

  beforeAll(async () => {
    server = await startListen({
      extraArgs: ['--auth-timeout', '2', '--max-unauthenticated', '2'],
    });
    server.writePolicy({
      clients: [{ id: 'app', keys: [server.key('app').publicLine], repositories: ['/srv/app'] }],
    });
  });

  afterAll(async () => {
    await server?.close();
  });

  it('silent connection times out', async () => {
    const socket = await connect(server.port);
    const started = Date.now();
    await closed(socket);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1500);
    const record = await server.waitForLog(
      (entry) => entry.event === 'connection_refused' && entry.reason === 'auth-timeout',
    );
    expect(record.client_ip).toBe('127.0.0.1');
  });

  it('third pending connection is refused', async () => {
    const sockets = [await connect(server.port), await connect(server.port)];
    const third = await connect(server.port);
    await closed(third);
    const record = await server.waitForLog(
      (entry) => entry.event === 'connection_refused' && entry.reason === 'max-unauthenticated',
    );
    expect(record.client_ip).toBe('127.0.0.1');
    for (const socket of sockets) {
      socket.destroy();
    }
  });

  it('idle login without session is closed', async () => {
    const started = Date.now();
    const result = await server.ssh('app', [], undefined, ['-N']);
    expect(result.code).toBe(255);
    expect(Date.now() - started).toBeLessThan(15_000);
    const record = await server.waitForLog(
      (entry) => entry.event === 'request_refused' && entry.request === 'connection',
    );
    expect(record.client_id).toBe('app');
  });
});

function connect(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = createConnection({ host: '127.0.0.1', port }, () => resolve(socket));
    socket.on('error', reject);
    socket.on('data', () => undefined);
  });
}

function closed(socket: Socket): Promise<void> {
  return new Promise((resolve) => socket.once('close', () => resolve()));
}
