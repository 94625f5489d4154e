/**
 * The flash group's steady state on compiled builds of src/ (`npx tsc -p tsconfig.build.json
 * --outDir DIR`), for what needs plain JavaScript without tsx's loader thread: counting
 * instructions under valgrind, and timing two commits against each other in one process.
 *
 *   node bench/flash-builds.mjs count DIR WRITES [POLICY]
 *     fills and warms up one store as bench/flash.bench.ts does (greedy by default), runs WRITES
 *     host writes and prints ns per write (CPU time). Under `valgrind --tool=cachegrind
 *     --cache-sim=no node --single-threaded bench/flash-builds.mjs count DIR N`, the instruction
 *     count is the same run after run; the count for N = 1,300,000 less the one for N = 300,000,
 *     over 10^6, is the instructions of one steady-state host write.
 *   node bench/flash-builds.mjs ab ROUNDS POLICY DIR...
 *     one store per build, timed round by round (KMEM_WRITES writes a round, default 100,000) in
 *     process CPU time; prints each build's median ns per write and its median ratio to the first
 *     build's time in the same round.
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const BLOCKS = 1024;
const PAGES_PER_BLOCK = 128;
const ALPHA = 1.1;

async function steadyStore(dir, policy) {
  const load = (path) => import(pathToFileURL(resolve(dir, path)).href);
  const [{ drive, gcTestbed, logicalPagesFor }, { SequentialWorkload, UniformWorkload }, { Prng }] = await Promise.all([
    load('flash/steady-state.js'),
    load('flash/workload.js'),
    load('util/prng.js'),
  ]);
  const L = logicalPagesFor(ALPHA, BLOCKS, PAGES_PER_BLOCK, { policy });
  const ftl = gcTestbed(BLOCKS, PAGES_PER_BLOCK, L, { policy });
  drive(ftl, new SequentialWorkload(L), L);
  drive(ftl, new UniformWorkload(L, 2), 2 * L);
  const prng = new Prng(3);
  return (n) => {
    for (let i = 0; i < n; i++) ftl.write(prng.int(L));
    return ftl.hostWrites;
  };
}

function cpuNs() {
  const u = process.cpuUsage();
  return (u.user + u.system) * 1000;
}

const [mode, ...args] = process.argv.slice(2);
if (mode === 'count') {
  const [dir, writes, policy = 'greedy'] = args;
  const run = await steadyStore(dir, policy);
  const n = Number(writes);
  const t0 = cpuNs();
  run(n);
  console.log(`${policy}: ${((cpuNs() - t0) / n).toFixed(1)} ns per host write (CPU time)`);
} else if (mode === 'ab') {
  const [rounds, policy, ...dirs] = args;
  const writes = Number(process.env.KMEM_WRITES ?? 100_000);
  const runs = [];
  for (const dir of dirs) runs.push(await steadyStore(dir, policy));
  const ns = runs.map(() => []);
  for (let r = 0; r <= Number(rounds); r++) {
    for (const [i, run] of runs.entries()) {
      const t0 = cpuNs();
      run(writes);
      if (r > 0) ns[i].push((cpuNs() - t0) / writes);
    }
  }
  const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
  for (const [i, dir] of dirs.entries()) {
    console.log(`${dir}: ${median(ns[i]).toFixed(1)} ns per host write, ${median(ns[i].map((x, r) => x / ns[0][r])).toFixed(3)}× ${dirs[0]}`);
  }
} else {
  console.error('usage: node bench/flash-builds.mjs count DIR WRITES [POLICY] | ab ROUNDS POLICY DIR...');
  process.exit(2);
}
