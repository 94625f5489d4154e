/**
 * A small benchmark harness: each case runs a body `iterations` times; the harness calibrates the
 * count to a time budget, repeats, and reports the median nanoseconds per iteration. Baselines run
 * in the same process, right beside what they are compared with. In smoke mode (CI) budgets shrink
 * to a few milliseconds: the figures mean nothing then, the run only proves every case works.
 *
 * Work the host clock cannot time per iteration (GPU kernels) is a case that times itself
 * (`timeSelf`, e.g. from device timestamps) and may hold a device that `teardown` releases once
 * every case has run.
 */

export interface BenchCase {
  /** Cases of one group are compared with the group's baseline. */
  group: string;
  name: string;
  /** The case the group's others are divided by. */
  baseline?: boolean;
  /** Runs the measured body `iterations` times. May return a value to defeat dead-code elimination. */
  run?(iterations: number): unknown;
  /** Instead of `run`: the case measures itself and reports ns per unit and how many units it timed. */
  timeSelf?(options: BenchOptions): Promise<{ nsPerOp: number; iterations: number }>;
  /** Releases what the case holds; runBench calls it once after the suite's cases ran (or were left out). */
  teardown?(): void | Promise<void>;
  /** What one iteration is, for the report ('alloc+free pair'). */
  unit?: string;
}

export interface BenchResult {
  group: string;
  name: string;
  unit: string;
  nsPerOp: number;
  /** nsPerOp ÷ the group baseline's nsPerOp. */
  relative: number | null;
  iterations: number;
}

export interface BenchOptions {
  smoke: boolean;
}

let sink: unknown;

function timeOnce(c: BenchCase, iterations: number): number {
  if (c.run === undefined) throw new Error(`bench case ${c.group} / ${c.name}: neither run nor timeSelf`);
  const start = process.hrtime.bigint();
  sink = c.run(iterations);
  return Number(process.hrtime.bigint() - start);
}

export function measure(c: BenchCase, options: BenchOptions): { nsPerOp: number; iterations: number } {
  const budgetNs = options.smoke ? 2e6 : 150e6;
  const repeats = options.smoke ? 1 : 7;
  let iterations = 16;
  // Calibrate (and warm up): grow until one run takes a tenth of the budget.
  for (let round = 0; round < 40; round++) {
    const ns = timeOnce(c, iterations);
    if (ns > budgetNs / 10 || iterations >= 1e9) break;
    iterations *= ns < budgetNs / 1000 ? 10 : 2;
  }
  iterations = Math.max(1, Math.round(iterations * 10 * (options.smoke ? 0.1 : 1) / 10));
  const samples: number[] = [];
  for (let r = 0; r < repeats; r++) samples.push(timeOnce(c, iterations) / iterations);
  samples.sort((a, b) => a - b);
  return { nsPerOp: samples[Math.floor(samples.length / 2)] ?? NaN, iterations };
}

export async function runCases(cases: readonly BenchCase[], options: BenchOptions, onResult?: (r: BenchResult) => void): Promise<BenchResult[]> {
  const results: BenchResult[] = [];
  for (const c of cases) {
    const { nsPerOp, iterations } = c.timeSelf === undefined ? measure(c, options) : await c.timeSelf(options);
    results.push({ group: c.group, name: c.name, unit: c.unit ?? 'op', nsPerOp, relative: null, iterations });
    const last = results[results.length - 1];
    if (last !== undefined) onResult?.(last);
  }
  for (const r of results) {
    const base = results.find((b) => b.group === r.group && cases.find((c) => c.name === b.name && c.group === b.group)?.baseline === true);
    r.relative = base === undefined ? null : r.nsPerOp / base.nsPerOp;
  }
  if (sink === Symbol.for('never')) console.log(sink);
  return results;
}
