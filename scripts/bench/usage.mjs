// CPU time and peak RSS of one node program, read by the program itself when it exits.
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { runProgram } from './process.mjs';

const RECORDER = pathToFileURL(join(import.meta.dirname, 'record-usage.mjs')).href;

/**
 * Runs `node ARGS` to completion, with an exit code in `exitCodes` (default 0), and resolves
 * with its exit code, output, wall time, CPU time (user + system, ms) and peak RSS (MiB),
 * node's own start-up included. The kernel counts CPU and RSS for that process alone, not
 * for its children. `usageFile` is a scratch file in a temp dir.
 * NOTE: a program that ends by a signal never writes its usage, so this rejects for it.
 */
export async function runNodeWithUsage(args, options) {
  const { usageFile, env, input, keepStdout, exitCodes = [0] } = options;
  rmSync(usageFile, { force: true });
  const result = await runProgram(process.execPath, ['--import', RECORDER, ...args], {
    env: { ...(env ?? process.env), BORG_GATE_BENCH_USAGE_FILE: usageFile },
    input,
    keepStdout,
  });
  if (!exitCodes.includes(result.code)) {
    const command = ['node', ...args].join(' ');
    throw new Error(`${command} exited with ${result.code}: ${result.stderr.trim().slice(-2000)}`);
  }
  const usage = JSON.parse(readFileSync(usageFile, 'utf8'));
  return {
    ...result,
    wallMs: result.ms,
    // resourceUsage reports CPU times in microseconds and maxRSS in KiB.
    cpuMs: (usage.userCPUTime + usage.systemCPUTime) / 1000,
    rssMiB: usage.maxRSS / 1024,
  };
}
