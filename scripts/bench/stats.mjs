// Summaries of repeated, paired measurements.

/** Returns the q-quantile (0..1) of the numbers, interpolating between neighbours. */
export function quantile(values, q) {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) {
    return Number.NaN;
  }
  const position = (sorted.length - 1) * q;
  const lower = Math.floor(position);
  const upper = Math.ceil(position);
  return sorted[lower] + (sorted[upper] - sorted[lower]) * (position - lower);
}

export function median(values) {
  return quantile(values, 0.5);
}

/**
 * Summarises paired samples. baseline[i] and subject[i] ran back to back, so their ratio
 * depends less on the load other processes put on the machine than either time alone.
 */
export function summarisePairs(baseline, subject) {
  const ratios = subject.map((value, index) => value / baseline[index]);
  return {
    runs: ratios.length,
    baselineMedian: median(baseline),
    subjectMedian: median(subject),
    ratioMedian: median(ratios),
    ratioLow: quantile(ratios, 0.25),
    ratioHigh: quantile(ratios, 0.75),
  };
}

/** Summarises samples of one program that has no baseline, e.g. a time in ms. */
export function summariseSamples(samples) {
  return {
    runs: samples.length,
    subjectMedian: median(samples),
    subjectLow: quantile(samples, 0.25),
    subjectHigh: quantile(samples, 0.75),
  };
}
