/**
 * `npx tsx bench/flash-interleaved.ts [rounds] [cases]`: the flash group's FTL cases against the floor
 * (MinimalGreedyLog), interleaved round by round in one thread and timed in process CPU time, so a
 * loaded machine slows both alike. Prints each case's median ns per host write and its median ratio
 * to the floor of the same round (the ratio is what to compare across machines). The floor and greedy
 * always run; a second argument names the others ('cost-benefit,f2fs-cb', the default). A third names
 * a directory holding another commit's library, built with `npx tsc -p tsconfig.build.json --outDir
 * DIR` (its flash/, machine/ and util/ modules): each FTL case then also runs on that code, as
 * 'NAME (DIR)', in the same rounds, and "× DIR" is this code's time per write over that code's.
 */
import { resolve } from 'node:path';
import { cpuUsage } from 'node:process';
import { pathToFileURL } from 'node:url';
import { drive, gcTestbed, logicalPagesFor } from '../src/flash/steady-state.ts';
import type { LogStoreConfig } from '../src/flash/log-store.ts';
import { SequentialWorkload, UniformWorkload } from '../src/flash/workload.ts';
import { Prng } from '../src/util/prng.ts';
import { steadyMinimalLog } from './flash.bench.ts';
import { median } from './harness.ts';

const BLOCKS = 1024;
const PAGES_PER_BLOCK = 128;
const ALPHA = 1.1;
const WRITES = 400_000;

function cpuNs(): number {
  const u = cpuUsage();
  return (u.user + u.system) * 1000;
}

/** What a case needs of a library: this one's, or another commit's build. */
interface FtlLibrary {
  drive: typeof drive;
  gcTestbed: typeof gcTestbed;
  logicalPagesFor: typeof logicalPagesFor;
  SequentialWorkload: typeof SequentialWorkload;
  UniformWorkload: typeof UniformWorkload;
  Prng: typeof Prng;
}

const THIS_LIBRARY: FtlLibrary = { drive, gcTestbed, logicalPagesFor, SequentialWorkload, UniformWorkload, Prng };

/** Another commit's build in `dir` (tsc's output of src/). */
async function libraryIn(dir: string): Promise<FtlLibrary> {
  const load = (path: string): Promise<Record<string, unknown>> => import(pathToFileURL(resolve(dir, path)).href) as Promise<Record<string, unknown>>;
  const [steady, workload, prng] = await Promise.all([load('flash/steady-state.js'), load('flash/workload.js'), load('util/prng.js')]);
  return { ...steady, ...workload, ...prng } as unknown as FtlLibrary;
}

function ftlCase(config: LogStoreConfig, lib: FtlLibrary = THIS_LIBRARY): (n: number) => void {
  const L = lib.logicalPagesFor(ALPHA, BLOCKS, PAGES_PER_BLOCK, config);
  const ftl = lib.gcTestbed(BLOCKS, PAGES_PER_BLOCK, L, config);
  lib.drive(ftl, new lib.SequentialWorkload(L), L);
  lib.drive(ftl, new lib.UniformWorkload(L, 2), 2 * L);
  const prng = new lib.Prng(3);
  return (n) => {
    for (let i = 0; i < n; i++) ftl.write(prng.int(L));
  };
}

const FACTORIES: [string, () => (n: number) => void][] = [
  [
    'floor',
    () => {
      const log = steadyMinimalLog(BLOCKS, PAGES_PER_BLOCK, ALPHA);
      const prng = new Prng(3);
      return (n) => {
        for (let i = 0; i < n; i++) log.write(prng.int(log.logicalPages));
      };
    },
  ],
  ['greedy', () => ftlCase({ policy: 'greedy' })],
  ['cost-benefit', () => ftlCase({ policy: 'cost-benefit' })],
  ['f2fs-cb', () => ftlCase({ policy: 'f2fs-cb' })],
];
const rounds = Number(process.argv[2] ?? 9);
const only = (process.argv[3] ?? 'greedy,cost-benefit,f2fs-cb').split(',');
const otherDir = process.argv[4];
const chosen = FACTORIES.filter(([name], i) => i < 2 || only.includes(name));
const cases: (readonly [string, (n: number) => void])[] = chosen.map(([name, make]) => [name, make()] as const);
/** For each case on the other build: its index in `cases`, and the index of the same case on this code. */
const others: [number, number][] = [];
if (otherDir !== undefined) {
  const lib = await libraryIn(otherDir);
  for (const [i, [name]] of chosen.entries()) {
    if (i === 0) continue;
    others.push([cases.length, i]);
    cases.push([`${name} (${otherDir})`, ftlCase({ policy: name as LogStoreConfig['policy'] }, lib)]);
  }
}
const ns: number[][] = cases.map(() => []);
for (let r = 0; r < rounds + 1; r++) {
  for (const [i, [, run]] of cases.entries()) {
    const t0 = cpuNs();
    run(WRITES);
    if (r > 0) (ns[i] as number[]).push((cpuNs() - t0) / WRITES);
  }
}
const floor = ns[0] as number[];
for (const [i, [name]] of cases.entries()) {
  const mine = ns[i] as number[];
  const ratios = mine.map((x, r) => x / (floor[r] as number));
  const greedy = (ns[1] as number[]).map((g, r) => g / (mine[r] as number));
  const other = others.find(([, j]) => j === i);
  const vsOther = other === undefined ? '' : `  ${median(mine.map((x, r) => x / ((ns[other[0]] as number[])[r] as number))).toFixed(2)}× ${otherDir}`;
  process.stdout.write(`${name.padEnd(14)} ${median(mine).toFixed(1).padStart(7)} ns/write  ${median(ratios).toFixed(2)}× floor  ${median(greedy).toFixed(2)}× greedy's rate${vsOther}\n`);
}
