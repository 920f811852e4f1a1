// CPU time and peak RSS of one node program, read by the program itself when it exits.
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { runChecked } from './process.mjs';

const RECORDER = pathToFileURL(join(import.meta.dirname, 'record-usage.mjs')).href;

/**
 * Runs `node ARGS` to completion (exit 0 required) and resolves with its wall time, CPU time
 * (user + system, ms) and peak RSS (MiB), node's own start-up included. The kernel counts CPU
 * and RSS for that process alone. `usageFile` is a scratch file in a temp dir.
 * NOTE: a program that ends by a signal never writes its usage, so this rejects for it.
 */
export async function runNodeWithUsage(args, { usageFile, env, input, keepStdout }) {
  rmSync(usageFile, { force: true });
  const result = await runChecked(process.execPath, ['--import', RECORDER, ...args], {
    env: { ...(env ?? process.env), BORG_GATE_BENCH_USAGE_FILE: usageFile },
    input,
    keepStdout,
  });
  const usage = JSON.parse(readFileSync(usageFile, 'utf8'));
  return {
    ...result,
    wallMs: result.ms,
    // resourceUsage reports CPU times in microseconds and maxRSS in KiB.
    cpuMs: (usage.userCPUTime + usage.systemCPUTime) / 1000,
    rssMiB: usage.maxRSS / 1024,
  };
}
