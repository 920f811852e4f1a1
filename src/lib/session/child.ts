import { type ChildProcess, spawn } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import { finished } from 'node:stream/promises';

/** Signals that sshd or an admin may send the gate; each is passed on to borg. */
const FORWARDED_SIGNALS: NodeJS.Signals[] = ['SIGTERM', 'SIGINT', 'SIGHUP'];

/** Search path for the borg child; the client's PATH is never used. */
const CHILD_PATH = '/usr/local/bin:/usr/bin:/bin';

/**
 * Builds borg's environment from scratch. SSH_ORIGINAL_COMMAND is left out because `borg serve`
 * parses it itself; LD_*, PYTHON* and BORG_* are left out so nothing from the session changes
 * how borg loads or where `~` points.
 */
export function childEnvironment(
  env: NodeJS.ProcessEnv,
  extra: Record<string, string> = {},
): NodeJS.ProcessEnv {
  const clean: NodeJS.ProcessEnv = { PATH: CHILD_PATH, LANG: 'C.UTF-8' };
  for (const name of ['HOME', 'USER', 'LOGNAME', 'TZ'] as const) {
    const value = env[name];
    if (value !== undefined) {
      clean[name] = value;
    }
  }
  return { ...clean, ...extra };
}

/** Exit status of a borg child. */
export interface BorgExit {
  /** borg's exit code, or 128 + signal number when a signal ended it. */
  code: number;
  /** The signal that ended borg, if any. */
  signal?: NodeJS.Signals;
  /** The first signal the gate itself sent borg, and why. */
  sentByGate?: GateSignal;
}

export interface GateSignal {
  signal: NodeJS.Signals;
  /**
   * 'forwarded': the gate received it (sshd or an admin stopping the session). 'shutdown': a
   * `listen` server stopping. 'exit-timeout': borg did not exit in time after its output ended.
   */
  cause: 'forwarded' | 'shutdown' | 'exit-timeout';
}

export interface BorgChild {
  process: ChildProcess;
  exited: Promise<BorgExit>;
  /** Starts passing the gate's signals on to borg. spawnBorg calls it unless `deferSignals`. */
  forwardSignals: () => void;
}

/** The streams of one SSH session: this process's own under sshd, a channel's in `listen`. */
export interface SessionStreams {
  stdin: Readable;
  stdout: Writable;
  stderr: Writable;
}

export interface SpawnBorgOptions {
  env: NodeJS.ProcessEnv;
  cwd: string;
  /**
   * 'pipe': the caller relays stdin and stdout itself. 'requests': the caller relays stdin, and
   * borg writes to the session's stdout. 'inherit': borg uses the session's stdin and stdout.
   */
  stdio: 'pipe' | 'requests' | 'inherit';
  /** The session's streams; any that is not this process's own is connected through a pipe. */
  streams: SessionStreams;
  /** File mode creation mask for borg, given as a number (0o077). */
  umask: number;
  /** Leaves the gate's signals alone until the caller calls `forwardSignals`. */
  deferSignals?: boolean;
}

/** Number of descriptors, from 0, that the caller relays itself in each stdio mode. */
const RELAYED_DESCRIPTORS: Record<SpawnBorgOptions['stdio'], number> = {
  pipe: 2,
  requests: 1,
  inherit: 0,
};

/** borg children that have not exited yet, for a server that ends them on shutdown. */
const runningChildren = new Set<ChildProcess>();
/** The first signal the gate sent each child, so the audit log can tell it from a kill by others. */
const signalsSent = new WeakMap<ChildProcess, GateSignal>();

/** Sends `signal` to `child` and remembers the first one the gate sent. */
function signalChild(child: ChildProcess, signal: NodeJS.Signals, cause: GateSignal['cause']) {
  if (!signalsSent.has(child)) signalsSent.set(child, { signal, cause });
  child.kill(signal);
}
let forwardSignalsOfProcess = true;

/**
 * Stops spawnBorg from forwarding this process's signals. A server that runs many sessions in
 * one process handles its signals itself and ends the children with signalBorgChildren.
 */
export function disableSignalForwarding(): void {
  forwardSignalsOfProcess = false;
}

/** Sends `signal` to every running borg child and returns how many there were. */
export function signalBorgChildren(signal: NodeJS.Signals): number {
  for (const child of runningChildren) {
    signalChild(child, signal, 'shutdown');
  }
  return runningChildren.size;
}

/** Starts borg with an argv array (no shell), forwarding the gate's signals to it. */
export function spawnBorg(file: string, args: string[], options: SpawnBorgOptions): BorgChild {
  const { streams } = options;
  const session = [streams.stdin, streams.stdout, streams.stderr];
  // The caller relays stdin and stdout ('pipe') or stdin alone ('requests'). Of the rest, a
  // stream on this process's own descriptor 0, 1 or 2 is inherited, and a channel stream is piped.
  const relayedCount = RELAYED_DESCRIPTORS[options.stdio];
  const stdio = session.map((stream, fd) => {
    if (fd < relayedCount) return 'pipe';
    return isOwnDescriptor(stream, fd) ? 'inherit' : 'pipe';
  });
  // NOTE: the umask is process-wide, so it is set only around the synchronous fork. No other
  // session runs in between, and files the gate itself creates keep the process umask.
  const previousUmask = process.umask(options.umask);
  let child: ChildProcess;
  try {
    child = spawn(file, args, { env: options.env, cwd: options.cwd, stdio });
  } finally {
    process.umask(previousUmask);
  }
  const pipedOutputs = connectSessionStreams(child, options);
  runningChildren.add(child);
  const forward = (signal: NodeJS.Signals) => signalChild(child, signal, 'forwarded');
  let forwarded: NodeJS.Signals[] = [];
  let ended = false;
  const forwardSignals = () => {
    if (ended || forwarded.length > 0 || !forwardSignalsOfProcess) return;
    forwarded = FORWARDED_SIGNALS;
    for (const signal of forwarded) {
      process.on(signal, forward);
    }
  };
  if (options.deferSignals !== true) forwardSignals();
  const exited = new Promise<BorgExit>((resolve) => {
    const finish = (code: number, signal?: NodeJS.Signals) => {
      ended = true;
      runningChildren.delete(child);
      for (const name of forwarded) {
        process.off(name, forward);
      }
      const sentByGate = signalsSent.get(child);
      resolve({
        code,
        ...(signal !== undefined && { signal }),
        ...(sentByGate !== undefined && { sentByGate }),
      });
    };
    child.once('error', () => finish(127));
    child.once('exit', (code, signal) => {
      // Output still in a pipe after exit belongs to the session, so it is delivered first.
      void Promise.all(pipedOutputs.map((stream) => finished(stream).catch(() => undefined))).then(
        () => finish(code ?? 128 + signalNumber(signal), signal ?? undefined),
      );
    });
  });
  return { process: child, exited, forwardSignals };
}

/** Pipes the session streams that borg neither inherits nor leaves to the caller. */
function connectSessionStreams(child: ChildProcess, options: SpawnBorgOptions): Readable[] {
  const { streams } = options;
  const outputs: Readable[] = [];
  if (options.stdio === 'inherit' && child.stdin !== null) {
    child.stdin.on('error', () => {
      // borg exited while the client was still sending; its exit code reports why.
    });
    streams.stdin.pipe(child.stdin);
  }
  if (options.stdio !== 'pipe' && child.stdout !== null) {
    child.stdout.pipe(streams.stdout, { end: false });
    outputs.push(child.stdout);
  }
  if (child.stderr !== null) {
    child.stderr.pipe(streams.stderr, { end: false });
    outputs.push(child.stderr);
  }
  return outputs;
}

function isOwnDescriptor(stream: Readable | Writable, fd: number): boolean {
  return (stream as { fd?: unknown }).fd === fd;
}

function signalNumber(signal: NodeJS.Signals | null): number {
  const numbers: Partial<Record<NodeJS.Signals, number>> = {
    SIGHUP: 1,
    SIGINT: 2,
    SIGKILL: 9,
    SIGTERM: 15,
  };
  return signal === null ? 0 : (numbers[signal] ?? 1);
}

/**
 * Waits for borg to exit after its output ended. A borg that lingers past `graceMs` gets
 * SIGTERM, and SIGKILL after the same time again, so no borg process outlives its session.
 */
export async function waitForExit(child: BorgChild, graceMs: number): Promise<BorgExit> {
  const timers: NodeJS.Timeout[] = [];
  timers.push(setTimeout(() => signalChild(child.process, 'SIGTERM', 'exit-timeout'), graceMs));
  timers.push(setTimeout(() => signalChild(child.process, 'SIGKILL', 'exit-timeout'), 2 * graceMs));
  try {
    return await child.exited;
  } finally {
    for (const timer of timers) {
      clearTimeout(timer);
    }
  }
}
