/**
 * A small benchmark harness. A case is a factory: make() builds what the case needs and returns the
 * measured body, which runs its operation `n` times. The harness calibrates `n` to a time budget,
 * warms up, repeats, and reports the median nanoseconds per operation; baselines sit in the same
 * group as what they are compared with.
 *
 * Every case runs in one process, the benchmark's, each in a worker thread of its own: a V8 isolate
 * with its own heap, type feedback and compiled code, so that one case (or another case's setup)
 * cannot slow another — a program uses one allocator, not twenty — while all of them share the
 * process, the machine and the moment. In smoke mode (CI) cases run on the main thread with
 * budgets of a few milliseconds: the figures mean nothing then, the run only proves every case works.
 */
import { runTsWorker } from '../test/helpers/worker.ts';

export interface BenchCase {
  /** Cases of one group are compared with the group's baseline. */
  group: string;
  name: string;
  /** The case the group's others are divided by. */
  baseline?: boolean;
  /** What one operation is, for the report ('alloc+free pair'). */
  unit?: string;
  /** Builds the case; returns the body that runs the operation `n` times (its result is kept alive). */
  make(): (n: number) => unknown;
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

function timeOnce(run: (n: number) => unknown, iterations: number): number {
  const start = process.hrtime.bigint();
  sink = run(iterations);
  return Number(process.hrtime.bigint() - start);
}

/** Times one case here, in this process. */
export function measure(c: BenchCase, options: BenchOptions): { nsPerOp: number; iterations: number } {
  const run = c.make();
  const budgetNs = options.smoke ? 2e6 : 150e6;
  const repeats = options.smoke ? 1 : 7;
  let iterations = 16;
  // Calibrate (and warm up): grow until one run takes a tenth of the budget.
  for (let round = 0; round < 40; round++) {
    const ns = timeOnce(run, iterations);
    if (ns > budgetNs / 10 || iterations >= 1e9) break;
    iterations *= ns < budgetNs / 1000 ? 10 : 2;
  }
  if (options.smoke) iterations = Math.max(1, Math.round(iterations / 10));
  for (let r = 0; r < (options.smoke ? 0 : 3); r++) timeOnce(run, iterations);
  const samples: number[] = [];
  for (let r = 0; r < repeats; r++) samples.push(timeOnce(run, iterations) / iterations);
  if (sink === Symbol.for('never')) console.log(sink);
  return { nsPerOp: median(samples), iterations };
}

/** The middle value (of an even count, the upper of the two middle ones); NaN for none. */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[sorted.length >> 1] ?? NaN;
}

/** Times case `index` of suite `suite` (suites.ts) in a worker thread of its own (bench/case-worker.ts). */
export function measureIsolated(suite: number, index: number, options: BenchOptions): Promise<{ nsPerOp: number; iterations: number }> {
  return runTsWorker(new URL('./case-worker.ts', import.meta.url), { suite, index, smoke: options.smoke });
}

export async function runCases(
  cases: readonly BenchCase[],
  options: BenchOptions & { suite: number; indices: readonly number[] },
  onResult?: (r: BenchResult) => void,
): Promise<BenchResult[]> {
  const results: BenchResult[] = [];
  for (const index of options.indices) {
    const c = cases[index] as BenchCase;
    const { nsPerOp, iterations } = options.smoke ? measure(c, options) : await measureIsolated(options.suite, index, options);
    const result: BenchResult = { group: c.group, name: c.name, unit: c.unit ?? 'op', nsPerOp, relative: null, iterations };
    results.push(result);
    onResult?.(result);
  }
  for (const r of results) {
    const base = results.find((b) => b.group === r.group && cases.some((c) => c.baseline === true && c.name === b.name && c.group === b.group));
    r.relative = base === undefined ? null : r.nsPerOp / base.nsPerOp;
  }
  return results;
}
