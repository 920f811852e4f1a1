import type { Socket } from 'node:net';
import type { Connection } from 'ssh2';

/** Time a dropped client gets to read the disconnect message before its socket is destroyed. */
const DISCONNECT_GRACE_MS = 1_000;

/**
 * Sends SSH disconnect and closes the connection. ssh2's end() only half-closes the socket, so a
 * client that never closes its side (a slow or hostile one) would keep it, and its slot, forever.
 */
export function dropConnection(client: Connection): void {
  client.end();
  // NOTE: ssh2 1.17 exposes the socket only as the private field _sock.
  const socket = (client as unknown as { _sock?: Socket })._sock;
  if (socket === undefined) {
    return;
  }
  const timer = setTimeout(() => socket.destroy(), DISCONNECT_GRACE_MS);
  timer.unref();
  socket.once('close', () => clearTimeout(timer));
}
