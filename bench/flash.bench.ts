/**
 * The flash translation layer: host page writes simulated per second, in memory, greedy GC, at α =
 * ALPHA on BLOCKS blocks of PAGES_PER_BLOCK pages (L = (B − R)·Np/α logical pages, logicalPagesFor),
 * in steady state (filled and warmed up with two logical-space passes before timing). Each host
 * write is a uniformly random logical page; the store programs it and, about every Np/WA writes,
 * cleans a victim (WA − 1 copy-backs per write; flash/analytic.ts's waGreedy gives WA for α and Np)
 * and erases it, all through the NAND model (rules checked, spare areas stored, costs counted).
 * Beside it: FIFO and the separate-GC-frontier variant, the in-place baseline, and a floor that only
 * draws the random page and updates a plain mapping array.
 *
 * Desnoyers' C simulator (pjd-nu/sssl-ftlsim, runsim_greedy.c) is the reference: over 10 M host
 * writes per second.
 */
import { InPlaceStore } from '../src/flash/in-place.ts';
import type { LogStoreConfig } from '../src/flash/log-store.ts';
import { drive, gcTestbed, logicalPagesFor } from '../src/flash/steady-state.ts';
import { SequentialWorkload, UniformWorkload } from '../src/flash/workload.ts';
import { NandDevice } from '../src/machine/nand.ts';
import { Prng } from '../src/util/prng.ts';
import type { BenchCase } from './harness.ts';

const BLOCKS = 1024;
const PAGES_PER_BLOCK = 128;
const ALPHA = 1.1;

function steadyFtl(config: LogStoreConfig) {
  const L = logicalPagesFor(ALPHA, BLOCKS, PAGES_PER_BLOCK, config);
  const ftl = gcTestbed(BLOCKS, PAGES_PER_BLOCK, L, config);
  drive(ftl, new SequentialWorkload(L), L);
  drive(ftl, new UniformWorkload(L, 2), 2 * L);
  return ftl;
}

export function flashCases(): BenchCase[] {
  const group = `flash FTL, host page writes (α ${ALPHA}, ${BLOCKS} × ${PAGES_PER_BLOCK} pages, in memory)`;
  const unit = 'host page write';
  const cases: BenchCase[] = [
    {
      group,
      unit,
      name: 'baseline: random page + mapping-array update only (no flash)',
      baseline: true,
      make: () => {
        const L = logicalPagesFor(ALPHA, BLOCKS, PAGES_PER_BLOCK);
        const map = new Int32Array(L);
        const prng = new Prng(1);
        return (n) => {
          let x = 0;
          for (let i = 0; i < n; i++) {
            const lpn = prng.int(L);
            x ^= map[lpn] as number;
            map[lpn] = i;
          }
          return x;
        };
      },
    },
  ];
  for (const [name, config] of [
    ['kmem FTL, greedy (steady state)', { policy: 'greedy' }],
    ['kmem FTL, FIFO (steady state)', { policy: 'fifo' }],
    ['kmem FTL, greedy, separate GC frontier', { policy: 'greedy', gcFrontier: 'separate' }],
  ] as const) {
    cases.push({
      group,
      unit,
      name,
      make: () => {
        const ftl = steadyFtl(config);
        const prng = new Prng(3);
        const pages = ftl.logicalPages;
        return (n) => {
          for (let i = 0; i < n; i++) ftl.write(prng.int(pages));
          return ftl.hostWrites;
        };
      },
    });
  }
  cases.push({
    group,
    unit,
    name: 'in-place baseline (read-modify-erase-write, 64 blocks)',
    make: () => {
      const device = NandDevice.create({ geometry: { blocks: 64, pagesPerBlock: PAGES_PER_BLOCK, pageBytes: 4096, spareBytes: 16 }, storePayload: false });
      const inPlace = new InPlaceStore(device, logicalPagesFor(ALPHA, 64, PAGES_PER_BLOCK));
      drive(inPlace, new SequentialWorkload(inPlace.logicalPages), inPlace.logicalPages);
      const prng = new Prng(4);
      return (n) => {
        for (let i = 0; i < n; i++) inPlace.write(prng.int(inPlace.logicalPages));
        return inPlace.hostWrites;
      };
    },
  });
  return cases;
}
