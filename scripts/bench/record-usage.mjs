// Preloaded with `node --import` into a measured program: when the program exits, writes its
// own CPU time and peak RSS (process.resourceUsage) as JSON to $BORG_GATE_BENCH_USAGE_FILE.
import { writeFileSync } from 'node:fs';

const file = process.env.BORG_GATE_BENCH_USAGE_FILE;
if (file !== undefined) {
  process.once('exit', () => {
    const usage = process.resourceUsage();
    writeFileSync(file, JSON.stringify(usage));
  });
}
