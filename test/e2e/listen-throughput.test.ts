import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type GateFixture, startGate } from './harness/gate.js';
import { type ListenFixture, startListen } from './harness/listen.js';

// A measurement, not a check of speed: set BORG_GATE_BENCH=1 to run it. It times `borg create`
// of the same incompressible data through listen and through sshd + serve, alternating runs.
const SIZE_MIB = Number(process.env.BORG_GATE_BENCH_MIB ?? 1024);
const ROUNDS = Number(process.env.BORG_GATE_BENCH_ROUNDS ?? 2);

describe.runIf(process.env.BORG_GATE_BENCH === '1')('listen throughput', () => {
  let listen: ListenFixture;
  let gate: GateFixture;
  let source: string;

  beforeAll(async () => {
    listen = await startListen();
    gate = await startGate();
    source = join(listen.dir, 'source');
    mkdirSync(source);
    execFileSync('sh', ['-c', `head -c ${SIZE_MIB}M /dev/urandom > data.bin`], { cwd: source });
    for (const fixture of [listen, gate]) {
      fixture.writePolicy({
        clients: [
          {
            id: 'bench',
            keys: [fixture.key('bench').publicLine],
            paths: [join(fixture.dir, 'repos')],
            mode: 'read-write',
          },
        ],
      });
      mkdirSync(join(fixture.dir, 'repos'));
    }
  }, 300_000);

  afterAll(async () => {
    await listen?.close();
    await gate?.close();
  });

  it('borg create of the same data', async () => {
    const seconds: Record<string, number[]> = { listen: [], sshd: [] };
    for (let round = 0; round < ROUNDS; round += 1) {
      for (const [name, fixture] of [
        ['listen', listen],
        ['sshd', gate],
      ] as const) {
        const repo = fixture.url(join(fixture.dir, 'repos', `r${round}`));
        const borg = fixture.borg.bind(fixture);
        expect((await borg('bench', ['init', '-e', 'none', repo])).code).toBe(0);
        const started = performance.now();
        const create = await borg('bench', ['create', '-C', 'none', `${repo}::a`, '.'], {
          cwd: source,
          timeoutMs: 1_800_000,
          env: { BORG_BASE_DIR: join(fixture.dir, `base-${round}`) },
        });
        seconds[name]!.push((performance.now() - started) / 1000);
        expect(create.code).toBe(0);
      }
    }
    const best = (values: number[]) => Math.min(...values);
    const ratio = best(seconds.sshd!) / best(seconds.listen!);
    console.log(
      JSON.stringify({
        size_mib: SIZE_MIB,
        seconds,
        listen_vs_sshd_throughput: Number(ratio.toFixed(2)),
      }),
    );
  }, 3_600_000);
});
