/**
 * `npm run bench`: every benchmark, baselines beside them in one process, printed as a markdown
 * table ready for docs/benchmarks.md. `--smoke` runs each case for a few milliseconds (CI: it checks
 * the benchmarks work, the figures mean nothing); `--json` prints the results as JSON; `--only
 * <text>` keeps the groups whose name contains the text.
 */
import { cpus, totalmem } from 'node:os';
import type { BenchCase, BenchOptions, BenchResult } from './harness.ts';
import { measure, runCases } from './harness.ts';
import { flashCases } from './flash.bench.ts';
import { gpuWarpSlabResults } from './gpu-warp-slab.bench.ts';
import { pageAllocCases } from './page-alloc.bench.ts';
import { slabCases } from './slab.bench.ts';
import { slabWorkerResults } from './slab-workers.bench.ts';

/** A suite: cases timed here by the harness, or a function that measures itself (worker threads, GPU kernels). */
type Suite = { cases: () => BenchCase[] | Promise<BenchCase[]> } | { results: (options: BenchOptions) => Promise<BenchResult[]>; group: string };

export const SUITES: readonly Suite[] = [
  { cases: pageAllocCases },
  { cases: slabCases },
  { results: slabWorkerResults, group: 'two workers' },
  { results: gpuWarpSlabResults, group: 'gpu alloc' },
  { cases: flashCases },
];

function fmt(ns: number): string {
  return ns >= 100 ? ns.toFixed(0) : ns.toFixed(1);
}

/** Ops per second with an SI prefix ('603 M'). */
function perSecond(ns: number): string {
  const rate = 1e9 / ns;
  const [value, prefix] = rate >= 1e9 ? [rate / 1e9, 'G'] : rate >= 1e6 ? [rate / 1e6, 'M'] : rate >= 1e3 ? [rate / 1e3, 'k'] : [rate, ''];
  return `${value >= 100 ? value.toFixed(0) : value.toFixed(1)} ${prefix}`.trimEnd();
}

export function markdown(results: readonly BenchResult[]): string {
  const lines = ['| group | case | ns per op | ops per s | × baseline |', '|---|---|---:|---:|---:|'];
  for (const r of results) {
    lines.push(`| ${r.group} | ${r.name} | ${fmt(r.nsPerOp)} | ${perSecond(r.nsPerOp)} | ${r.relative === null ? '' : r.relative.toFixed(2)} |`);
  }
  return lines.join('\n');
}

export async function runBench(options: { smoke: boolean; only?: string; onResult?: (r: BenchResult) => void }): Promise<BenchResult[]> {
  const results: BenchResult[] = [];
  for (const [suiteIndex, suite] of SUITES.entries()) {
    if ('results' in suite) {
      if (options.only !== undefined && !suite.group.includes(options.only)) continue;
      const measured = await suite.results({ smoke: options.smoke });
      for (const r of measured) options.onResult?.(r);
      results.push(...measured);
      continue;
    }
    const cases = await suite.cases();
    const indices = cases.flatMap((c, i) => (options.only === undefined || c.group.includes(options.only) ? [i] : []));
    results.push(...runCases(cases, { smoke: options.smoke, suite: suiteIndex, indices }, options.onResult));
  }
  return results;
}

/** A child process of an isolated run: times one case and prints the figures as JSON. */
async function runOneCase(spec: string): Promise<void> {
  const [suiteIndex, caseIndex] = spec.split(':').map(Number);
  const suite = SUITES[suiteIndex ?? -1];
  if (suite === undefined || !('cases' in suite)) throw new Error(`--case ${spec}: no such suite`);
  const c = (await suite.cases())[caseIndex ?? -1];
  if (c === undefined) throw new Error(`--case ${spec}: no such case`);
  process.stdout.write(JSON.stringify(measure(c, { smoke: false })));
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const caseIndex = argv.indexOf('--case');
  if (caseIndex >= 0) return runOneCase(argv[caseIndex + 1] ?? '');
  const smoke = argv.includes('--smoke');
  const json = argv.includes('--json');
  const onlyIndex = argv.indexOf('--only');
  const only = onlyIndex >= 0 ? argv[onlyIndex + 1] : undefined;
  const machine = `${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} vCPU, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}`;
  if (!json) process.stderr.write(`kmem benchmarks${smoke ? ' (smoke: figures meaningless)' : ''} on ${machine}, ${new Date().toISOString().slice(0, 10)}\n`);
  const results = await runBench({
    smoke,
    ...(only === undefined ? {} : { only }),
    onResult: json ? undefined : (r) => process.stderr.write(`  ${r.group} / ${r.name}: ${fmt(r.nsPerOp)} ns\n`),
  });
  process.stdout.write(json ? `${JSON.stringify({ machine, smoke, results }, null, 2)}\n` : `\n${markdown(results)}\n`);
}

if (process.argv[1]?.endsWith('bench/main.ts')) await main();
