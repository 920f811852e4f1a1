// Paired sampling: each round runs baseline and subject back to back, in alternating order.
import { summarisePairs, summariseSamples } from './stats.mjs';

/**
 * Runs `rounds` rounds of `baseline()` and `subject()`, each returning one sample, and
 * summarises the pairs. Odd rounds run the subject first, so neither side always runs warm.
 */
export async function measurePairs({ rounds, baseline, subject }) {
  const baselineSamples = [];
  const subjectSamples = [];
  for (let round = 0; round < rounds; round += 1) {
    if (round % 2 === 0) {
      baselineSamples.push(await baseline(round));
      subjectSamples.push(await subject(round));
    } else {
      subjectSamples.push(await subject(round));
      baselineSamples.push(await baseline(round));
    }
  }
  return summarisePairs(baselineSamples, subjectSamples);
}

/**
 * Runs `run()` `rounds` times and summarises the samples, for a figure without a baseline
 * (for example ms to render authorized_keys for 100,000 clients).
 */
export async function measureSamples({ rounds, run }) {
  const samples = [];
  for (let round = 0; round < rounds; round += 1) {
    samples.push(await run(round));
  }
  return summariseSamples(samples);
}

/**
 * Runs `baseline()` and every subject once per round, in an order that rotates each round, and
 * summarises each subject against the baseline of its round. Returns one summary per subject.
 */
export async function measureRotated({ rounds, baseline, subjects }) {
  const programs = [baseline, ...subjects];
  const samples = programs.map(() => []);
  for (let round = 0; round < rounds; round += 1) {
    for (let step = 0; step < programs.length; step += 1) {
      const index = (round + step) % programs.length;
      samples[index].push(await programs[index](round));
    }
  }
  return subjects.map((_, index) => summarisePairs(samples[0], samples[index + 1]));
}
