/**
 * A small benchmark harness. A case is a factory: make() builds what the case needs and returns the
 * measured body, which runs its operation `n` times. The harness calibrates `n` to a time budget,
 * warms up, takes samples, and reports the median nanoseconds per operation; baselines sit in the
 * same group as what they are compared with.
 *
 * Every case runs in one process, the benchmark's, each in a worker thread of its own: a V8 isolate
 * with its own heap, type feedback and compiled code, so that one case (or another case's setup)
 * cannot slow another — a program uses one allocator, not twenty — while all of them share the
 * process, the machine and the moment.
 *
 * The cases of one group are **interleaved**: each group's workers are started and calibrated, then
 * sampled round by round (one sample of every case per round, the order rotating each round), so a
 * machine that slows down or speeds up during the run moves every case of the group alike and the
 * ratios to the baseline stay meaningful. `KMEM_BENCH_CLOCK=cpu` times samples in process CPU time
 * (`process.cpuUsage()`, microsecond resolution, samples of ~15 ms) instead of wall time: on a
 * machine loaded by other programs a descheduled case then loses no time. Only one case runs at any
 * moment, so the process's CPU time is that case's. Quiet-machine figures use the default wall clock.
 *
 * In smoke mode (CI) cases run on the main thread with budgets of a few milliseconds: the figures
 * mean nothing then, the run only proves every case works.
 */
import { startLabServer } from '../src/lab/worker-thread.ts';

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
  /**
   * The first and third quartiles of the case's samples (nsPerOp is their median): the middle half
   * of what the case measured. Where it is wide the machine ran in more than one state during the
   * run (docs/benchmarks.md, "Reading a run: the middle half of the samples"). Absent for the
   * groups that time themselves.
   */
  quartilesNsPerOp?: readonly [number, number];
  /** nsPerOp ÷ the group baseline's nsPerOp. */
  relative: number | null;
  iterations: number;
}

/** What one case measured: the median of its samples, their quartiles, the iterations per sample. */
export interface CaseTiming {
  nsPerOp: number;
  quartilesNsPerOp: readonly [number, number];
  iterations: number;
}

export interface BenchOptions {
  smoke: boolean;
}

let sink: unknown;

/** The clock samples are read with: wall time (default) or process CPU time (KMEM_BENCH_CLOCK=cpu). */
export type BenchClock = 'wall' | 'cpu';

export function benchClock(): BenchClock {
  const value = process.env.KMEM_BENCH_CLOCK ?? 'wall';
  if (value !== 'wall' && value !== 'cpu') throw new Error(`KMEM_BENCH_CLOCK is '${value}', expected 'wall' or 'cpu'`);
  return value;
}

function nowNs(clock: BenchClock): number {
  if (clock === 'wall') return Number(process.hrtime.bigint());
  const usage = process.cpuUsage();
  return (usage.user + usage.system) * 1000;
}

function timeOnce(run: (n: number) => unknown, iterations: number, clock: BenchClock): number {
  const start = nowNs(clock);
  sink = run(iterations);
  return nowNs(clock) - start;
}

/** A case built, calibrated and warmed up: ready to be sampled. */
export interface PreparedCase {
  readonly run: (n: number) => unknown;
  readonly iterations: number;
  readonly clock: BenchClock;
}

const SAMPLE_BUDGET_NS = 15e6;
/**
 * A sample's budget on the CPU clock: Linux accounts process CPU time in scheduler ticks (4 ms at
 * HZ=250) on many kernels, so a sample must span tens of ticks for its figure to mean anything.
 */
const CPU_SAMPLE_BUDGET_NS = 150e6;
const SMOKE_BUDGET_NS = 0.2e6;
const CALIBRATION_ROUNDS_MAX = 40;
const WARMUP_SAMPLES = 3;
const WARMUP_MIN_NS = 300e6;
const WARMUP_SAMPLES_MAX = 100;
/** Samples per case: rounds of a group's interleaving (odd, so the median is one sample). */
export const SAMPLE_ROUNDS = 9;

/** Builds case `c` and grows its iteration count until one run takes about one sample's budget. */
export function prepare(c: BenchCase, options: BenchOptions): PreparedCase {
  const run = c.make();
  const clock = options.smoke ? 'wall' : benchClock();
  const budgetNs = options.smoke ? SMOKE_BUDGET_NS : clock === 'cpu' ? CPU_SAMPLE_BUDGET_NS : SAMPLE_BUDGET_NS;
  let iterations = 16;
  // Calibrate (and warm up): grow until one run takes the budget, on the clock the samples use (on a
  // loaded machine the wall clock would stop at a run that was merely descheduled).
  // The first call pays one-time costs (a lazily built structure, a first compilation) that would
  // stop the calibration at a count far too small (a run of 16 taking 20 ms once), so it is not
  // timed, and each step takes the faster of two runs.
  timeOnce(run, iterations, clock);
  for (let round = 0; round < CALIBRATION_ROUNDS_MAX; round++) {
    const ns = Math.min(timeOnce(run, iterations, clock), timeOnce(run, iterations, clock));
    if (ns > budgetNs || iterations >= 1e9) break;
    iterations *= ns < budgetNs / 100 ? 10 : 2;
  }
  // Warm up for WARMUP_SAMPLES runs; with the CPU clock (a loaded machine) also for at least
  // WARMUP_MIN_NS, since V8's optimising compiler (a background thread) can then take 100 ms to
  // install a loop's code and samples taken before that measure the interpreter. The quiet
  // wall-clock run keeps the short warm-up its earlier figures were taken with: the churn groups'
  // baselines drift as their free lists scatter (docs/benchmarks.md), so a longer run measures a
  // later state, not the same one more precisely.
  if (!options.smoke) {
    const minNs = clock === 'cpu' ? WARMUP_MIN_NS : 0;
    const start = Number(process.hrtime.bigint());
    for (let r = 0; r < WARMUP_SAMPLES_MAX && (r < WARMUP_SAMPLES || Number(process.hrtime.bigint()) - start < minNs); r++) timeOnce(run, iterations, clock);
  }
  return { run, iterations, clock };
}

/** One sample of a prepared case: nanoseconds per operation. */
export function sample(p: PreparedCase): number {
  const ns = timeOnce(p.run, p.iterations, p.clock) / p.iterations;
  if (sink === Symbol.for('never')) console.log(sink);
  return ns;
}

/** Times one case here, in this process, without interleaving (smoke mode, tests). */
export function measure(c: BenchCase, options: BenchOptions): CaseTiming {
  const p = prepare(c, options);
  const samples: number[] = [];
  for (let r = 0; r < (options.smoke ? 1 : SAMPLE_ROUNDS); r++) samples.push(sample(p));
  return timing(samples, p.iterations);
}

/** The value of rank ⌊q · count⌋ in ascending order (q = 0.5: the median; of an even count, the
 *  upper of the two middle ones); NaN for none. Nearest rank, no interpolation: every figure
 *  reported is a sample that was measured. */
export function rankValue(values: readonly number[], q: number): number {
  return atRank([...values].sort((a, b) => a - b), q);
}

/** rankValue of values already in ascending order. */
function atRank(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
}

/** The middle value (of an even count, the upper of the two middle ones); NaN for none. */
export function median(values: readonly number[]): number {
  return rankValue(values, 0.5);
}

/** A case's samples summed up: their median and quartiles (rankValue at ½, ¼ and ¾, over one sort). */
export function timing(samples: readonly number[], iterations: number): CaseTiming {
  const sorted = [...samples].sort((a, b) => a - b);
  return { nsPerOp: atRank(sorted, 0.5), quartilesNsPerOp: [atRank(sorted, 0.25), atRank(sorted, 0.75)], iterations };
}

/** What the parent asks a case worker (bench/case-worker.ts): build and calibrate, or one sample. */
export type CaseJob = { kind: 'prepare' } | { kind: 'sample' };
export type CaseAnswer = { iterations: number } | { nsPerOp: number };

/** The order a group's `count` cases are sampled in, in round `round`: every case once, rotated by the round. */
export function roundOrder(count: number, round: number): number[] {
  return Array.from({ length: count }, (_, k) => (k + round) % count);
}

/**
 * Times cases of one suite interleaved: every case in a worker thread of its own, calibrated one
 * after another, then sampled round by round with the order rotating each round. Resolves with each
 * case's median, in the order of `indices`.
 */
export async function measureInterleaved(
  suite: number,
  indices: readonly number[],
  options: BenchOptions,
): Promise<CaseTiming[]> {
  const servers = indices.map((index) => startLabServer<CaseJob, CaseAnswer>(new URL('./case-worker.ts', import.meta.url), { suite, index, smoke: options.smoke }));
  try {
    const iterations: number[] = [];
    for (const server of servers) iterations.push((await server.request({ kind: 'prepare' }) as { iterations: number }).iterations);
    const samples: number[][] = servers.map(() => []);
    const rounds = options.smoke ? 1 : SAMPLE_ROUNDS;
    for (let round = 0; round < rounds; round++) {
      for (const i of roundOrder(servers.length, round)) {
        samples[i]?.push((await (servers[i] as (typeof servers)[number]).request({ kind: 'sample' }) as { nsPerOp: number }).nsPerOp);
      }
    }
    return samples.map((s, i) => timing(s, iterations[i] as number));
  } finally {
    await Promise.all(servers.map((s) => s.close()));
  }
}

/** Times case `index` of suite `suite` (suites.ts) in a worker thread of its own (bench/case-worker.ts). */
export async function measureIsolated(suite: number, index: number, options: BenchOptions): Promise<CaseTiming> {
  return (await measureInterleaved(suite, [index], options))[0] as CaseTiming;
}

export async function runCases(
  cases: readonly BenchCase[],
  options: BenchOptions & { suite: number; indices: readonly number[] },
  onResult?: (r: BenchResult) => void,
): Promise<BenchResult[]> {
  const results: BenchResult[] = [];
  const groups = [...new Set(options.indices.map((i) => (cases[i] as BenchCase).group))];
  for (const group of groups) {
    const indices = options.indices.filter((i) => (cases[i] as BenchCase).group === group);
    const timed = options.smoke ? indices.map((i) => measure(cases[i] as BenchCase, options)) : await measureInterleaved(options.suite, indices, options);
    for (const [k, index] of indices.entries()) {
      const c = cases[index] as BenchCase;
      const { nsPerOp, quartilesNsPerOp, iterations } = timed[k] as CaseTiming;
      const result: BenchResult = { group: c.group, name: c.name, unit: c.unit ?? 'op', nsPerOp, quartilesNsPerOp, relative: null, iterations };
      results.push(result);
      onResult?.(result);
    }
  }
  for (const r of results) {
    const base = results.find((b) => b.group === r.group && cases.some((c) => c.baseline === true && c.name === b.name && c.group === b.group));
    r.relative = base === undefined ? null : r.nsPerOp / base.nsPerOp;
  }
  return results;
}
