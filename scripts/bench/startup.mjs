// Figure: time from exec to the moment borg starts, for `borg-gate serve` and for bare node.
import {
  appendFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { borgHandshake, ensureDir, makeTempDir, writePolicy } from './fixtures.mjs';
import { runProgram } from './process.mjs';
import { summarisePairs } from './stats.mjs';

/** Policy sizes measured; 10,000 clients make a policy file of about 2.4 MB. */
const CLIENT_COUNTS = [10, 10_000];

/**
 * Writes a stand-in for borg that stores the wall clock (ns since the epoch) in `stampFile`
 * and exits. The gate starts it exactly as it would start borg.
 */
function writeStub(dir, stampFile) {
  const stub = join(dir, 'borg-stub');
  writeFileSync(stub, `#!/bin/sh\nexec /bin/date +%s%N > ${stampFile}\n`, { mode: 0o755 });
  return stub;
}

/** Wall clock in ms with sub-ms resolution, on the same clock as `date +%s%N`. */
function wallClockMs() {
  return performance.timeOrigin + performance.now();
}

/** Runs `file args`, and returns ms from just before the spawn until the stub wrote its stamp. */
async function timeToStub(scenario, file, args, options = {}) {
  rmSync(scenario.stampFile, { force: true });
  const started = wallClockMs();
  const result = await runProgram(file, args, options);
  if (!existsSync(scenario.stampFile)) {
    throw new Error(
      `${scenario.label}: the borg stub never ran (exit ${result.code}): ${result.stderr.trim()}`,
    );
  }
  const stamp = Number(readFileSync(scenario.stampFile, 'utf8').trim()) / 1e6;
  return stamp - started;
}

function makeGateScenario(root, count, gate, { editEachRun = false, twoGrants = false } = {}) {
  const variant = `${editEachRun ? '-edited' : ''}${twoGrants ? '-two' : ''}`;
  const dir = ensureDir(join(root, `clients-${count}${variant}`));
  const stampFile = join(dir, 'stamp');
  const stub = writeStub(dir, stampFile);
  ensureDir(join(dir, 'log'));
  ensureDir(join(dir, 'state'));
  const { file, last } = writePolicy(dir, {
    count,
    borgBinary: stub,
    auditLog: join(dir, 'log', 'audit.log'),
    stateDir: join(dir, 'state'),
    lastSecondRepository: twoGrants,
  });
  mkdirSync(last.repository, { recursive: true });

  // sshd's ExposeAuthInfo file, so the gate checks the authenticated key as in production.
  const authInfo = join(dir, 'auth-info');
  writeFileSync(authInfo, `publickey ${last.key}\n`);
  const args = [gate, 'serve', '--client', last.id, '--policy', file];
  args.push('--audit-log', join(dir, 'log', 'fallback.log'));
  const env = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: dir,
    SSH_ORIGINAL_COMMAND: 'borg serve --umask=077',
    SSH_CONNECTION: '127.0.0.1 40000 127.0.0.1 22',
    SSH_USER_AUTH: authInfo,
  };
  const input = borgHandshake(last.repository);

  let edits = 0;
  return {
    label: `serve, ${count.toLocaleString('en-US')} clients`,
    figure: twoGrants
      ? `serve start-up, ${count.toLocaleString('en-US')} clients, two repositories`
      : `serve start-up, ${count.toLocaleString('en-US')} clients`,
    count,
    editEachRun,
    stampFile,
    run: (scenario) => {
      if (editEachRun) {
        // A changed comment changes the bytes, so the gate must validate the file in full.
        edits += 1;
        appendFileSync(file, `# edit ${edits}\n`);
      }
      return timeToStub(scenario, process.execPath, args, { env, input });
    },
  };
}

function makeBareScenario(root) {
  const dir = ensureDir(join(root, 'bare'));
  const stampFile = join(dir, 'stamp');
  const stub = writeStub(dir, stampFile);
  const code = `require('node:child_process').spawn(${JSON.stringify(stub)}, { stdio: 'inherit' })`;
  return {
    label: 'node -e (spawns the stub at once)',
    stampFile,
    run: (scenario) => timeToStub(scenario, process.execPath, ['-e', code]),
  };
}

function makeStubScenario(root) {
  const dir = ensureDir(join(root, 'stub'));
  const stampFile = join(dir, 'stamp');
  const stub = writeStub(dir, stampFile);
  return { label: 'stub alone', stampFile, run: (scenario) => timeToStub(scenario, stub, []) };
}

/** Rounds for the first connection after a policy edit, which parses the whole file. */
const EDITED_ROUNDS = 3;

/** Measures the first connection after each edit of a 10,000-client policy; it has no target. */
async function measureEdited(root, options, bare, stub) {
  const edited = makeGateScenario(root, 10_000, options.gate, { editEachRun: true });
  const baseline = [];
  const subject = [];
  for (let round = 0; round < Math.min(options.runs, EDITED_ROUNDS); round += 1) {
    const stubMs = await stub.run(stub);
    baseline.push(Math.max((await bare.run(bare)) - stubMs, 0.01));
    subject.push(Math.max((await edited.run(edited)) - stubMs, 0.01));
  }
  return {
    figure: 'serve start-up, 10,000 clients, first after an edit',
    baseline: bare.label,
    subject: 'borg-gate serve',
    unit: 'ms',
    summary: summarisePairs(baseline, subject),
  };
}

/**
 * Measures exec-to-borg time of `serve` against bare node, interleaved run by run. The stub's
 * own start (sh and date), timed in the same round, is subtracted from both sides.
 */
export async function measureStartup(options) {
  const root = makeTempDir('startup');
  try {
    const bare = makeBareScenario(root);
    const stub = makeStubScenario(root);
    const gates = CLIENT_COUNTS.map((count) => makeGateScenario(root, count, options.gate));
    // For a client with one repository, borg starts before the handshake. With two, it starts
    // after `open` and `session_start`, so this row times the gate's whole path before borg.
    gates.push(makeGateScenario(root, 10_000, options.gate, { twoGrants: true }));
    // One warm-up round: page cache, and whatever the gate keeps between connections.
    for (const scenario of [stub, bare, ...gates]) {
      await scenario.run(scenario);
    }
    const samples = new Map([bare, ...gates].map((scenario) => [scenario, []]));
    for (let round = 0; round < options.runs; round += 1) {
      const stubMs = await stub.run(stub);
      // Rotated each round, so no program always runs right after the same neighbour.
      const order = [bare, ...gates];
      const rotated = [
        ...order.slice(round % order.length),
        ...order.slice(0, round % order.length),
      ];
      for (const scenario of rotated) {
        samples.get(scenario).push(Math.max((await scenario.run(scenario)) - stubMs, 0.01));
      }
    }
    const rows = gates.map((gate) => ({
      figure: gate.figure,
      baseline: bare.label,
      subject: 'borg-gate serve',
      unit: 'ms',
      target: { max: 1.3 },
      summary: summarisePairs(samples.get(bare), samples.get(gate)),
    }));
    rows.push(await measureEdited(root, options, bare, stub));
    return rows;
  } finally {
    if (!options.keep) {
      rmSync(root, { recursive: true, force: true });
    }
  }
}
