// Measures append latency while PROCESSES processes append COUNT records each to one log.
// Run: node <bundled file> DIR [PROCESSES] [COUNT]
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { openAuditLog } from '../../../../src/lib/audit-log/writer.js';

const [baseDir, processesText, countText, role] = process.argv.slice(2);
const processes = Number(processesText ?? 50);
const count = Number(countText ?? 20);

if (role === 'worker') {
  const log = await openAuditLog(join(baseDir!, 'audit.log'));
  const samples: number[] = [];
  for (let index = 0; index < count; index++) {
    const start = performance.now();
    await log.append({ event: 'check', session_id: `${process.pid}-${index}` });
    samples.push(performance.now() - start);
  }
  process.stdout.write(JSON.stringify(samples));
} else {
  const dir = mkdtempSync(join(baseDir!, 'contention-'));
  const started = performance.now();
  const outputs = await Promise.all(Array.from({ length: processes }, () => runWorker(dir)));
  const elapsed = performance.now() - started;
  const samples = outputs.flatMap((text) => JSON.parse(text) as number[]).sort((a, b) => a - b);
  const pick = (q: number) => samples[Math.floor(q * (samples.length - 1))]!.toFixed(2);
  console.log(
    `processes=${processes} appends=${samples.length} median=${pick(0.5)}ms ` +
      `p99=${pick(0.99)}ms max=${pick(1)}ms wall=${elapsed.toFixed(0)}ms`,
  );
}

function runWorker(dir: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [process.argv[1]!, dir, '1', String(count), 'worker'], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let text = '';
    child.stdout.on('data', (chunk) => {
      text += chunk;
    });
    child.on('error', reject);
    child.on('close', () => resolve(text));
  });
}
