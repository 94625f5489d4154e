/**
 * The flash translation layer: host page writes simulated per second, in memory, greedy GC, at α =
 * ALPHA on BLOCKS blocks of PAGES_PER_BLOCK pages (L = (B − R)·Np/α logical pages, logicalPagesFor),
 * in steady state (filled and warmed up with two logical-space passes before timing). Each host
 * write is a uniformly random logical page; the store programs it and, about every Np/WA writes,
 * cleans a victim (WA − 1 copy-backs per write; flash/analytic.ts's waGreedy gives WA for α and Np)
 * and erases it, all through the NAND model (rules checked, spare areas stored, costs counted).
 * Beside it: FIFO, the cost-benefit policies and the separate-GC-frontier variant, the in-place
 * baseline, and two floors: the minimal greedy log a user would hand-write in typed arrays (the same
 * single log, victims and copies, with no NAND model, no spare areas and no checks; its WA matches
 * the FTL's, test/bench), and one that only draws the random page and updates a mapping array.
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

/**
 * The floor: a greedy single log in typed arrays, written as directly as it can be. Logical pages
 * 0..L-1 over B blocks of Np pages; one frontier shared by host writes and GC copies; a victim (the
 * closed block with the fewest valid pages, from per-count buckets) is cleaned whenever fewer than
 * one block is free, as in the FTL with its defaults.
 */
export class MinimalGreedyLog {
  readonly l2p: Int32Array;
  private readonly p2l: Int32Array;
  private readonly valid: Int32Array;
  private readonly closed: Uint8Array;
  private readonly bucketHead: Int32Array;
  private readonly next: Int32Array;
  private readonly prev: Int32Array;
  private readonly free: Int32Array;
  private freeHead = 0;
  private nrFree: number;
  private minBucket = 0;
  private frontier: number;
  private fill = 0;
  hostWrites = 0;
  programs = 0;

  constructor(
    readonly blocks: number,
    readonly pagesPerBlock: number,
    readonly logicalPages: number,
  ) {
    this.l2p = new Int32Array(logicalPages).fill(-1);
    this.p2l = new Int32Array(blocks * pagesPerBlock).fill(-1);
    this.valid = new Int32Array(blocks);
    this.closed = new Uint8Array(blocks);
    this.bucketHead = new Int32Array(pagesPerBlock + 1).fill(-1);
    this.next = new Int32Array(blocks).fill(-1);
    this.prev = new Int32Array(blocks).fill(-1);
    this.free = new Int32Array(blocks);
    for (let b = 0; b < blocks; b++) this.free[b] = b;
    this.nrFree = blocks - 1;
    this.frontier = 0;
    this.freeHead = 1;
  }

  write(lpn: number): void {
    const old = this.l2p[lpn] as number;
    if (old >= 0) {
      this.p2l[old] = -1;
      const b = (old / this.pagesPerBlock) | 0;
      const v = this.valid[b] as number;
      if (this.closed[b] === 1) {
        this.unlink(b, v);
        this.push(b, v - 1);
      }
      this.valid[b] = v - 1;
    }
    this.append(lpn);
    this.hostWrites++;
  }

  private append(lpn: number): void {
    const b = this.frontier;
    const ppn = b * this.pagesPerBlock + this.fill;
    this.p2l[ppn] = lpn;
    this.l2p[lpn] = ppn;
    this.valid[b]!++;
    this.programs++;
    if (++this.fill === this.pagesPerBlock) {
      this.closed[b] = 1;
      this.push(b, this.valid[b] as number);
      this.frontier = this.free[this.freeHead] as number;
      this.freeHead = this.freeHead + 1 === this.blocks ? 0 : this.freeHead + 1;
      this.nrFree--;
      this.fill = 0;
      if (this.nrFree < 1) this.clean();
    }
  }

  private clean(): void {
    while (this.nrFree < 1) {
      let m = this.minBucket;
      while (this.bucketHead[m] === -1) m++;
      this.minBucket = m;
      const victim = this.bucketHead[m] as number;
      this.unlink(victim, m);
      this.closed[victim] = 0;
      const base = victim * this.pagesPerBlock;
      for (let i = 0; i < this.pagesPerBlock; i++) {
        const lpn = this.p2l[base + i] as number;
        if (lpn >= 0) {
          this.p2l[base + i] = -1;
          this.append(lpn);
        }
      }
      this.valid[victim] = 0;
      this.free[(this.freeHead + this.nrFree) % this.blocks] = victim;
      this.nrFree++;
    }
  }

  private push(b: number, v: number): void {
    const head = this.bucketHead[v] as number;
    this.next[b] = head;
    this.prev[b] = -1;
    if (head !== -1) this.prev[head] = b;
    this.bucketHead[v] = b;
    if (v < this.minBucket) this.minBucket = v;
  }

  private unlink(b: number, v: number): void {
    const n = this.next[b] as number;
    const p = this.prev[b] as number;
    if (p === -1) this.bucketHead[v] = n;
    else this.next[p] = n;
    if (n !== -1) this.prev[n] = p;
  }
}

/** The minimal greedy log at the bench's size, filled and warmed up as steadyFtl does. */
export function steadyMinimalLog(blocks: number, pagesPerBlock: number, alpha: number): MinimalGreedyLog {
  const L = logicalPagesFor(alpha, blocks, pagesPerBlock);
  const log = new MinimalGreedyLog(blocks, pagesPerBlock, L);
  for (let l = 0; l < L; l++) log.write(l);
  const prng = new Prng(2);
  for (let i = 0; i < 2 * L; i++) log.write(prng.int(L));
  return log;
}

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
      name: 'floor: minimal greedy log in typed arrays (no NAND model)',
      baseline: true,
      make: () => {
        const log = steadyMinimalLog(BLOCKS, PAGES_PER_BLOCK, ALPHA);
        const prng = new Prng(3);
        const pages = log.logicalPages;
        return (n) => {
          for (let i = 0; i < n; i++) log.write(prng.int(pages));
          return log.hostWrites;
        };
      },
    },
    {
      group,
      unit,
      name: 'random page + mapping-array update only (no flash, no GC)',
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
    ['kmem FTL, LFS cost-benefit (steady state)', { policy: 'cost-benefit' }],
    ['kmem FTL, F2FS cost-benefit (steady state)', { policy: 'f2fs-cb' }],
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
