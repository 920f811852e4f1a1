// Child processes for the figures: argv arrays only, never a shell.
import { spawn } from 'node:child_process';

/**
 * Runs a program to completion and resolves with its exit code, output and wall time in ms.
 * Rejects when it cannot start or runs past `timeoutMs`.
 */
export function runProgram(file, args, options = {}) {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(file, args, {
      env: options.env ?? process.env,
      cwd: options.cwd,
      stdio: ['pipe', options.keepStdout ? 'pipe' : 'ignore', 'pipe'],
    });
    const stdout = [];
    const stderr = [];
    child.stdout?.on('data', (chunk) => stdout.push(chunk));
    child.stderr.on('data', (chunk) => stderr.push(chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 600_000);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({
        code: code ?? -1,
        signal,
        ms: performance.now() - started,
        stdout: Buffer.concat(stdout).toString('utf8'),
        stderr: Buffer.concat(stderr).toString('utf8'),
      });
    });
    child.stdin.on('error', () => {
      // The program may exit before reading all of its input; its exit code tells the story.
    });
    child.stdin.end(options.input ?? '');
  });
}

/** Like runProgram, but rejects unless the program exits with code 0. */
export async function runChecked(file, args, options = {}) {
  const result = await runProgram(file, args, options);
  if (result.code !== 0) {
    const command = [file, ...args].join(' ');
    throw new Error(`${command} exited with ${result.code}: ${result.stderr.trim().slice(-2000)}`);
  }
  return result;
}

/** Sends SIGTERM to a child started by the bench and resolves once it has exited. */
export function stopProcess(child) {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) {
      resolve();
      return;
    }
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}
