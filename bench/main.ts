/**
 * `npm run bench`: every benchmark, baselines beside them in one process (each timed case in a
 * worker thread of its own, see harness.ts), printed as a markdown
 * table ready for docs/benchmarks.md. `--smoke` runs each case for a few milliseconds (CI: it checks
 * the benchmarks work, the figures mean nothing); `--json` prints the results as JSON; `--only
 * <text>` keeps the groups whose name contains the text.
 */
import { cpus, totalmem } from 'node:os';
import { optionHelp, parseOptions, wantsHelp } from '../src/cli/args.ts';
import type { OptionSpecs, Parsed } from '../src/cli/args.ts';
import { isMainThread } from 'node:worker_threads';
import type { BenchResult } from './harness.ts';
import { benchClock, runCases } from './harness.ts';
import { SUITES } from './suites.ts';

function fmt(ns: number): string {
  return ns >= 100 ? ns.toFixed(0) : ns.toFixed(1);
}

/** Ops per second with an SI prefix ('603 M'). */
function perSecond(ns: number): string {
  const rate = 1e9 / ns;
  const [value, prefix] = rate >= 1e9 ? [rate / 1e9, 'G'] : rate >= 1e6 ? [rate / 1e6, 'M'] : rate >= 1e3 ? [rate / 1e3, 'k'] : [rate, ''];
  return `${value >= 100 ? value.toFixed(0) : value.toFixed(1)} ${prefix}`.trimEnd();
}

/** The middle half of a case's samples ('47.9–72.0'); empty for a group that times itself. */
function middleHalf(r: BenchResult): string {
  return r.quartilesNsPerOp === undefined ? '' : `${fmt(r.quartilesNsPerOp[0])}–${fmt(r.quartilesNsPerOp[1])}`;
}

export function markdown(results: readonly BenchResult[]): string {
  const lines = ['| group | case | ns per op | middle half of samples (ns) | ops per s | × baseline |', '|---|---|---:|---:|---:|---:|'];
  for (const r of results) {
    lines.push(`| ${r.group} | ${r.name} | ${fmt(r.nsPerOp)} | ${middleHalf(r)} | ${perSecond(r.nsPerOp)} | ${r.relative === null ? '' : r.relative.toFixed(2)} |`);
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
    results.push(...(await runCases(cases, { smoke: options.smoke, suite: suiteIndex, indices }, options.onResult)));
  }
  return results;
}

const OPTIONS: OptionSpecs = {
  smoke: { type: 'boolean', help: 'run each case for a few milliseconds: checks the benchmarks work, the figures mean nothing' },
  json: { type: 'boolean', help: 'print the results as JSON' },
  only: { type: 'string', value: 'TEXT', help: 'keep the groups whose name contains TEXT' },
  help: { type: 'boolean', short: 'h', help: 'print this help and do nothing else' },
};

/** Every group name `--only` can match, without running anything. */
export async function benchGroups(): Promise<string[]> {
  const groups = new Set<string>();
  for (const suite of SUITES) {
    if ('results' in suite) groups.add(suite.group);
    else for (const c of await suite.cases()) groups.add(c.group);
  }
  return [...groups];
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (wantsHelp(argv)) {
    process.stdout.write(`usage: npm run bench -- [options]\n\nEvery benchmark beside its baseline, as a markdown table.\n\n${optionHelp(OPTIONS)}\n`);
    return;
  }
  let values: Parsed['values'];
  try {
    ({ values } = parseOptions(argv, OPTIONS, 0, 'bench'));
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n`);
    process.exitCode = 2;
    return;
  }
  const smoke = values.smoke === true;
  const json = values.json === true;
  const only = typeof values.only === 'string' ? values.only : undefined;
  if (only !== undefined) {
    const groups = await benchGroups();
    if (!groups.some((g) => g.includes(only))) {
      process.stderr.write(`bench: --only '${only}' matches no benchmark group: expected part of one of\n${groups.map((g) => `  ${g}`).join('\n')}\n`);
      process.exitCode = 2;
      return;
    }
  }
  const machine = `${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} vCPU, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}`;
  const clock = smoke ? 'wall' : benchClock();
  const timing = clock === 'cpu' ? 'process CPU time (KMEM_BENCH_CLOCK=cpu)' : 'wall time';
  if (!json) process.stderr.write(`kmem benchmarks${smoke ? ' (smoke: figures meaningless)' : ''} on ${machine}, ${new Date().toISOString().slice(0, 10)}, ${timing}, cases of a group interleaved\n`);
  const results = await runBench({
    smoke,
    ...(only === undefined ? {} : { only }),
    onResult: json ? undefined : (r) => process.stderr.write(`  ${r.group} / ${r.name}: ${fmt(r.nsPerOp)} ns${r.quartilesNsPerOp === undefined ? '' : ` (middle half ${middleHalf(r)})`}\n`),
  });
  process.stdout.write(json ? `${JSON.stringify({ machine, smoke, clock, results }, null, 2)}\n` : `\n${markdown(results)}\n`);
}

if (isMainThread && process.argv[1]?.endsWith('bench/main.ts')) await main();
