import { PassThrough } from 'node:stream';
import type { ServerChannel } from 'ssh2';
import type { ServeIo } from '../../commands/serve.js';

/** Session streams in front of an SSH channel, and how to finish the channel after runServe. */
export interface ChannelIo {
  io: ServeIo;
  /** Delivers what is still buffered, sends the exit status, then sends EOF and closes. */
  finish(code: number): Promise<void>;
}

/**
 * Puts pass-through streams between runServe and the channel. runServe's pipelines destroy their
 * streams on error, and destroying the channel itself would close it before the exit status.
 */
export function channelIo(channel: ServerChannel, env: NodeJS.ProcessEnv): ChannelIo {
  const stdin = new PassThrough();
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  channel.pipe(stdin);
  stdout.pipe(channel, { end: false });
  stderr.pipe(channel.stderr, { end: false });
  channel.on('close', () => {
    if (!stdin.writableEnded) {
      stdin.end();
    }
    // Output for a client that is gone is dropped, so borg does not block on a full pipe.
    stdout.unpipe(channel);
    stderr.unpipe(channel.stderr);
    stdout.resume();
    stderr.resume();
  });
  channel.on('error', () => {
    // A channel error ends the connection, and runServe then reads the end of its input.
  });
  return {
    io: { stdin, stdout, stderr, env },
    finish: async (code) => {
      stdout.end();
      stderr.end();
      await Promise.all([drained(stdout), drained(stderr)]);
      await Promise.all([flushed(channel), flushed(channel.stderr)]);
      channel.exit(code);
      channel.end();
    },
  };
}

/** Resolves when a pass-through stream has handed all its data on. */
function drained(stream: PassThrough): Promise<void> {
  if (stream.readableEnded) {
    return Promise.resolve();
  }
  return new Promise((resolve) => {
    stream.once('end', resolve);
    stream.once('close', resolve);
  });
}

/**
 * Resolves when everything written before has left the channel's buffer. Writes complete in
 * order, so the callback of an empty write runs after all earlier ones.
 */
function flushed(stream: NodeJS.WritableStream & { writable: boolean }): Promise<void> {
  if (!stream.writable) {
    return Promise.resolve();
  }
  return new Promise((resolve) => {
    stream.write(Buffer.alloc(0), () => resolve());
  });
}
