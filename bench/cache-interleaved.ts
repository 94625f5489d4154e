/**
 * `npx tsx bench/cache-interleaved.ts [rounds] [--before DIR]`: the cache group's L1-hit cases
 * (bench/cache.bench.ts: a bare Uint32Array load, and 4-byte loads and stores through CPU 0's port
 * over a 16 KiB working set, warmed) interleaved round by round in one thread and timed in process
 * CPU time, so a loaded machine slows every case alike. Prints each case's median ns per access
 * and its median ratio to the bare load of the same round.
 *
 * --before DIR: DIR holds another commit's sources (`git archive <commit> src | tar -x -C DIR`); its
 * cache model's load and store run in the same rounds, on RAM of their own, so the two are compared
 * in the same process and moment. Each model's loops come from their own import of cache-loops.ts.
 */
import { cpuUsage } from 'node:process';
import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';
import { HIT_SET_BYTES, addresses } from './cache.bench.ts';
import { median } from './harness.ts';
import type { WordPort } from './cache-loops.ts';
import type * as CacheLoops from './cache-loops.ts';

type Loops = typeof CacheLoops;

interface ModelModules {
  MemorySystem: new (ram: unknown, options: { preset: 'skylake' }) => { cpu(i: number): WordPort; stats(): unknown };
  Ram: { create(options: { sizeBytes: string }): { buffer: ArrayBufferLike } };
}

const ROUNDS_WARM = 3;
const ACCESSES_PER_ROUND = 400_000;

function cpuNs(): number {
  const u = cpuUsage();
  return (u.user + u.system) * 1000;
}

async function model(srcDir: string, tag: string): Promise<{ modules: ModelModules; loops: Loops }> {
  const cache = (await import(pathToFileURL(resolve(srcDir, 'machine/cache.ts')).href)) as Pick<ModelModules, 'MemorySystem'>;
  const ram = (await import(pathToFileURL(resolve(srcDir, 'machine/ram.ts')).href)) as Pick<ModelModules, 'Ram'>;
  const loops = (await import(`./cache-loops.ts?model=${tag}`)) as Loops;
  return { modules: { MemorySystem: cache.MemorySystem, Ram: ram.Ram }, loops };
}

/** A warmed port over HIT_SET_BYTES, as cache.bench.ts's portCase builds it. */
function warmPort(m: ModelModules): WordPort {
  const mem = new m.MemorySystem(m.Ram.create({ sizeBytes: '64MiB' }), { preset: 'skylake' });
  const port = mem.cpu(0);
  for (let a = 0; a < HIT_SET_BYTES; a += 64) port.load(a, 4);
  return port;
}

const args = process.argv.slice(2);
const beforeAt = args.indexOf('--before');
const beforeDir = beforeAt >= 0 ? args[beforeAt + 1] : undefined;
if (beforeAt >= 0 && beforeDir === undefined) throw new Error('--before: expected a directory holding src/');
const rounds = Number(args.find((a, i) => /^\d+$/.test(a) && (beforeAt < 0 || i !== beforeAt + 1)) ?? 21);

const addr = addresses(HIT_SET_BYTES);
const now = await model(resolve(import.meta.dirname, '../src'), 'now');
const cases: [string, (n: number) => number][] = [];
{
  const { modules, loops } = now;
  const words = new Uint32Array(modules.Ram.create({ sizeBytes: '64MiB' }).buffer);
  cases.push(['bare Uint32Array load', loops.bareBody(words, addr)]);
  cases.push(['model load', loops.loadBody(warmPort(modules), addr)]);
  cases.push(['model store', loops.storeBody(warmPort(modules), addr)]);
}
if (beforeDir !== undefined) {
  const { modules, loops } = await model(resolve(beforeDir, 'src'), 'before');
  cases.push(['before: model load', loops.loadBody(warmPort(modules), addr)]);
  cases.push(['before: model store', loops.storeBody(warmPort(modules), addr)]);
}

const ns: number[][] = cases.map(() => []);
let sink = 0;
for (let r = 0; r < rounds + ROUNDS_WARM; r++) {
  for (const [i, [, run]] of cases.entries()) {
    const t0 = cpuNs();
    sink ^= run(ACCESSES_PER_ROUND);
    if (r >= ROUNDS_WARM) (ns[i] as number[]).push((cpuNs() - t0) / ACCESSES_PER_ROUND);
  }
}
const bare = ns[0] as number[];
process.stdout.write(`${rounds} rounds of ${ACCESSES_PER_ROUND} accesses, process CPU time (sink ${sink & 1})\n`);
for (const [i, [name]] of cases.entries()) {
  const mine = ns[i] as number[];
  const ratios = mine.map((x, r) => x / (bare[r] as number));
  process.stdout.write(`${name.padEnd(22)} ${median(mine).toFixed(2).padStart(6)} ns/access  ${median(ratios).toFixed(2)}× bare load\n`);
}
