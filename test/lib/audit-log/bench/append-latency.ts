// Measures append latency of one process, with and without fsync.
// Run: node <bundled file> DIR [COUNT]
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { openAuditLog } from '../../../../src/lib/audit-log/writer.js';

const [baseDir, countText] = process.argv.slice(2);
const count = Number(countText ?? 2000);

for (const fsync of [false, true]) {
  const dir = mkdtempSync(join(baseDir!, 'latency-'));
  const log = await openAuditLog(join(dir, 'audit.log'), { fsync });
  const samples: number[] = [];
  for (let index = 0; index < count; index++) {
    const start = performance.now();
    await log.append({
      event: 'session_end',
      session_id: `s-${index}`,
      client_id: 'laptop-1',
      command: 'borg serve --umask=077 --info',
      repository: '/srv/borg/laptop-1/main',
      decision: 'allow',
      exit_code: 0,
      duration_ms: 1234,
      bytes_in: 1_000_000,
      bytes_out: 20_000,
      rpc: { puts: 10, gets: 2, deletes: 0, commit: true },
    });
    samples.push(performance.now() - start);
  }
  samples.sort((a, b) => a - b);
  const pick = (q: number) => samples[Math.floor(q * (samples.length - 1))]!.toFixed(3);
  console.log(
    `fsync=${fsync} n=${count} median=${pick(0.5)}ms p99=${pick(0.99)}ms max=${pick(1)}ms`,
  );
}
