/**
 * A stream of object allocations and frees through slab caches and kmalloc, as a kernel's object
 * allocator sees them: a few typed caches (task_struct-like, dentry-like, inode-like objects) and
 * kmalloc of lognormal sizes, each object living an exponentially distributed number of steps.
 *
 * One allocation is requested per step. The stream depends only on the seed, never on whether an
 * allocation succeeded, so two designs driven with one seed see the same requests; a worker thread
 * runs its own stream (its own seed) against the shared kernel.
 */
import type { Kernel } from '../../mm/kernel.ts';
import { GFP } from '../../mm/gfp.ts';
import type { KmemCache } from '../../mm/slab/cache.ts';
import { MinHeap } from '../../util/min-heap.ts';
import { Prng } from '../../util/prng.ts';

/** The typed caches of the stream: name, object size, share of requests, mean lifetime in steps. */
export const OBJECT_CACHES: readonly { name: string; sizeBytes: number; share: number; lifetimeSteps: number }[] = [
  { name: 'task_struct', sizeBytes: 1664, share: 0.05, lifetimeSteps: 4000 },
  { name: 'dentry', sizeBytes: 192, share: 0.3, lifetimeSteps: 3000 },
  { name: 'inode_cache', sizeBytes: 608, share: 0.15, lifetimeSteps: 3000 },
];
/** kmalloc takes the rest: lognormal sizes around this mean, short-lived. */
const KMALLOC_MEAN_BYTES = 200;
const KMALLOC_LIFETIME_STEPS = 300;
const KMALLOC_MAX_BYTES = 16384;

/** Creates the stream's caches in `kernel` (once, before any worker attaches). */
export function createObjectCaches(kernel: Kernel): void {
  for (const c of OBJECT_CACHES) kernel.createCache(c.name, c.sizeBytes);
}

export interface ObjectChurnCounters {
  step: number;
  requests: number;
  failures: number;
  liveObjects: number;
  liveBytes: number;
}

export class ObjectChurn {
  readonly counters: ObjectChurnCounters = { step: 0, requests: 0, failures: 0, liveObjects: 0, liveBytes: 0 };
  private readonly prng: Prng;
  private readonly caches: KmemCache[];
  private readonly heap = new MinHeap(4096);
  /** Per handle: the object's address, its cache (index, or −1 for kmalloc) and requested bytes. */
  private addrOf: number[] = [];
  private cacheOf: number[] = [];
  private bytesOf: number[] = [];
  private readonly freeHandles: number[] = [];
  private readonly weights: number[];

  constructor(
    private readonly kernel: Kernel,
    seed: number,
  ) {
    this.prng = new Prng(seed);
    this.caches = OBJECT_CACHES.map((c) => kernel.slab.cache(c.name));
    const cacheShare = OBJECT_CACHES.reduce((sum, c) => sum + c.share, 0);
    this.weights = [...OBJECT_CACHES.map((c) => c.share), 1 - cacheShare];
  }

  run(steps: number): void {
    for (let i = 0; i < steps; i++) {
      const now = this.counters.step++;
      while (this.heap.peekKey() <= now) this.release(this.heap.pop());
      const kind = this.prng.weighted(this.weights);
      const cache = kind < this.caches.length ? kind : -1;
      const sigma = 0.9;
      const bytes =
        cache >= 0
          ? (OBJECT_CACHES[cache]?.sizeBytes ?? 8)
          : Math.min(KMALLOC_MAX_BYTES, Math.max(1, Math.round(Math.exp(Math.log(KMALLOC_MEAN_BYTES) - (sigma * sigma) / 2 + sigma * this.gaussian()))));
      const life = this.prng.exponential(cache >= 0 ? (OBJECT_CACHES[cache]?.lifetimeSteps ?? 1) : KMALLOC_LIFETIME_STEPS);
      this.counters.requests++;
      const gfp = GFP.NORETRY | GFP.NOWARN;
      const addr = cache >= 0 ? (this.caches[cache] as KmemCache).tryAlloc(gfp) : this.kernel.tryKmalloc(bytes, gfp);
      if (addr === null) {
        this.counters.failures++;
        continue;
      }
      const handle = this.freeHandles.pop() ?? this.addrOf.length;
      this.addrOf[handle] = addr;
      this.cacheOf[handle] = cache;
      this.bytesOf[handle] = bytes;
      this.counters.liveObjects++;
      this.counters.liveBytes += bytes;
      this.heap.push(now + life, handle);
    }
  }

  /** Frees every live object. */
  drain(): void {
    while (this.heap.size > 0) this.release(this.heap.pop());
  }

  private release(handle: number): void {
    const cache = this.cacheOf[handle] as number;
    const addr = this.addrOf[handle] as number;
    if (cache >= 0) (this.caches[cache] as KmemCache).free(addr);
    else this.kernel.kfree(addr);
    this.counters.liveObjects--;
    this.counters.liveBytes -= this.bytesOf[handle] as number;
    this.freeHandles.push(handle);
  }

  /** A standard normal draw (Box–Muller). */
  private gaussian(): number {
    const u = 1 - this.prng.nextFloat();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.prng.nextFloat());
  }
}
