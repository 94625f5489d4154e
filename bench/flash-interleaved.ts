/**
 * `npx tsx bench/flash-interleaved.ts [rounds] [cases]`: the flash group's FTL cases against the floor
 * (MinimalGreedyLog), interleaved round by round in one thread and timed in process CPU time, so a
 * loaded machine slows both alike. Prints each case's median ns per host write and its median ratio
 * to the floor of the same round (the ratio is what to compare across machines). The floor and greedy
 * always run; a second argument names the others ('cost-benefit,f2fs-cb', the default).
 */
import { cpuUsage } from 'node:process';
import { drive, gcTestbed, logicalPagesFor } from '../src/flash/steady-state.ts';
import type { LogStoreConfig } from '../src/flash/log-store.ts';
import { SequentialWorkload, UniformWorkload } from '../src/flash/workload.ts';
import { Prng } from '../src/util/prng.ts';
import { steadyMinimalLog } from './flash.bench.ts';

const BLOCKS = 1024;
const PAGES_PER_BLOCK = 128;
const ALPHA = 1.1;
const WRITES = 400_000;

function cpuNs(): number {
  const u = cpuUsage();
  return (u.user + u.system) * 1000;
}

function ftlCase(config: LogStoreConfig): (n: number) => void {
  const L = logicalPagesFor(ALPHA, BLOCKS, PAGES_PER_BLOCK, config);
  const ftl = gcTestbed(BLOCKS, PAGES_PER_BLOCK, L, config);
  drive(ftl, new SequentialWorkload(L), L);
  drive(ftl, new UniformWorkload(L, 2), 2 * L);
  const prng = new Prng(3);
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
const cases = FACTORIES.filter(([name], i) => i < 2 || only.includes(name)).map(([name, make]) => [name, make()] as const);
const ns: number[][] = cases.map(() => []);
for (let r = 0; r < rounds + 1; r++) {
  for (const [i, [, run]] of cases.entries()) {
    const t0 = cpuNs();
    run(WRITES);
    if (r > 0) (ns[i] as number[]).push((cpuNs() - t0) / WRITES);
  }
}
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1] as number;
const floor = ns[0] as number[];
for (const [i, [name]] of cases.entries()) {
  const mine = ns[i] as number[];
  const ratios = mine.map((x, r) => x / (floor[r] as number));
  const greedy = (ns[1] as number[]).map((g, r) => g / (mine[r] as number));
  process.stdout.write(`${name.padEnd(14)} ${median(mine).toFixed(1).padStart(7)} ns/write  ${median(ratios).toFixed(2)}× floor  ${median(greedy).toFixed(2)}× greedy's rate\n`);
}
