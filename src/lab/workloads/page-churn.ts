/**
 * A long-running mix of page allocations of several orders, migratetypes and lifetimes, the way a
 * busy machine's page allocator sees them: many short-lived movable pages (anonymous memory, page
 * cache), fewer long-lived unmovable kernel allocations (slabs, page tables, kernel stacks of order
 * 2) and reclaimable ones (dentry and inode caches).
 *
 * One allocation is requested per step; each lives for an exponentially distributed number of
 * steps. Lifetimes and arrival shares are solved from the targets (Little's law: pages live of a
 * type = arrival rate · mean lifetime · mean block size), so that at steady state `usage` of the
 * managed pages are in use, `unmovableShare` of them unmovable and `reclaimableShare` reclaimable,
 * and unmovable and reclaimable blocks live `lifetimeRatio` times longer than movable ones.
 *
 * The stream of requests depends only on the seed, never on whether an allocation succeeded, so
 * two allocator designs driven with one seed see exactly the same requests.
 *
 * Movable blocks are raw pages by default (`movable: 'pages'`, tryAllocPages with
 * GFP_HIGHUSER_MOVABLE), which nothing can migrate. With `movable: 'anonymous'` they are what movable
 * memory mostly is on Linux, anonymous memory of a process: a movable block of order k is 2^k pages
 * of one address space's mapping, faulted in by a write to each and given back with MADV_DONTNEED,
 * so compaction can migrate them through the reverse map. Each such block has a fixed 8-page
 * virtual slot (the largest order is 3) in one big anonymous mapping; its page tables are the
 * kernel's own (unmovable) allocations, as on Linux.
 */
import type { Kernel } from '../../mm/kernel.ts';
import { GFP } from '../../mm/gfp.ts';
import type { AddressSpace } from '../../mm/vm/mm-struct.ts';
import { SyscallError } from '../../mm/vm/errors.ts';
import { MADV, MAP, PAGE_SIZE, PROT } from '../../mm/vm/types.ts';
import { MinHeap } from '../../util/min-heap.ts';
import { Prng } from '../../util/prng.ts';

export interface PageChurnOptions {
  steps: number;
  usage: number;
  unmovableShare: number;
  reclaimableShare: number;
  lifetimeRatio: number;
  seed: number;
  /** Movable blocks as raw pages (default) or as anonymous memory of an address space (migratable). */
  movable?: 'pages' | 'anonymous';
}

/** Pages of one movable block's virtual slot: 2^3, the largest order requested. */
const SLOT_PAGES = 8;

interface BlockType {
  name: 'movable' | 'unmovable' | 'reclaimable';
  gfp: number;
  /** Weights of orders 0, 1, 2, 3. */
  orderWeights: readonly number[];
}

/** Order mixes: movable mostly single pages; unmovable includes order-2 kernel stacks and order-3 slabs. */
export const BLOCK_TYPES: readonly BlockType[] = [
  { name: 'movable', gfp: GFP.HIGHUSER_MOVABLE, orderWeights: [0.88, 0.05, 0.04, 0.03] },
  { name: 'unmovable', gfp: GFP.KERNEL, orderWeights: [0.6, 0.15, 0.15, 0.1] },
  { name: 'reclaimable', gfp: GFP.RECLAIMABLE, orderWeights: [0.8, 0.1, 0.05, 0.05] },
];

function meanPages(weights: readonly number[]): number {
  let total = 0;
  let sum = 0;
  weights.forEach((w, order) => {
    total += w;
    sum += w * 2 ** order;
  });
  return sum / total;
}

export interface PageChurnCounters {
  step: number;
  requests: number;
  failures: number;
  livePages: number;
}

export class PageChurn {
  readonly counters: PageChurnCounters = { step: 0, requests: 0, failures: 0, livePages: 0 };
  /** Arrival probability and mean lifetime (steps) per block type. */
  readonly arrival: number[];
  readonly lifetime: number[];
  private readonly prng: Prng;
  private readonly heap = new MinHeap(4096);
  private pfnOf = new Int32Array(4096);
  private orderOf = new Uint8Array(4096);
  private readonly freeHandles: number[] = [];
  private nextHandle = 0;
  /** Anonymous mode: the address space, its mapping, and each handle's virtual slot (−1: raw pages). */
  readonly mm: AddressSpace | null = null;
  private base = 0;
  private slotOf = new Int32Array(4096);
  private readonly freeSlots: number[] = [];
  private nextSlot = 0;
  private slotLimit = 0;

  constructor(
    private readonly kernel: Kernel,
    options: PageChurnOptions,
  ) {
    this.prng = new Prng(options.seed);
    const managed = kernel.pages.managedPagesTotal;
    const shares = [1 - options.unmovableShare - options.reclaimableShare, options.unmovableShare, options.reclaimableShare];
    const ratios = [1, options.lifetimeRatio, options.lifetimeRatio];
    // Σ rate = 1 per step, rate_t = live_t / (T_movable · ratio_t · size_t)  ⇒  T_movable = Σ live_t / (ratio_t · size_t).
    const live = shares.map((s) => s * options.usage * managed);
    const sizes = BLOCK_TYPES.map((t) => meanPages(t.orderWeights));
    let movableLifetime = 0;
    live.forEach((l, t) => (movableLifetime += l / ((ratios[t] ?? 1) * (sizes[t] ?? 1))));
    this.lifetime = ratios.map((r) => r * movableLifetime);
    this.arrival = live.map((l, t) => l / ((this.lifetime[t] ?? 1) * (sizes[t] ?? 1)));
    if (options.movable === 'anonymous') {
      this.mm = kernel.vm.createAddressSpace();
      // Room for every movable block that could be live at once (each at least one page).
      this.slotLimit = managed;
      this.base = this.mm.mmap(0, this.slotLimit * SLOT_PAGES * PAGE_SIZE, PROT.READ | PROT.WRITE, MAP.PRIVATE | MAP.ANONYMOUS | MAP.NORESERVE);
      // Base pages only, as the raw-page stream has: no THP faults in the mapping.
      this.mm.madvise(this.base, this.slotLimit * SLOT_PAGES * PAGE_SIZE, MADV.NOHUGEPAGE);
    }
  }

  /** Frees a live block: raw pages back to the buddy allocator, an anonymous block by MADV_DONTNEED. */
  private release(handle: number): void {
    const order = this.orderOf[handle] as number;
    const slot = this.slotOf[handle] as number;
    this.slotOf[handle] = -1;
    if (slot >= 0 && this.mm !== null) {
      this.mm.madvise(this.base + slot * SLOT_PAGES * PAGE_SIZE, (1 << order) * PAGE_SIZE, MADV.DONTNEED);
      this.freeSlots.push(slot);
    } else {
      this.kernel.pages.freePages(this.pfnOf[handle] as number, order);
    }
    this.counters.livePages -= 1 << order;
    this.freeHandles.push(handle);
  }

  /** Faults in 2^order pages of a free slot; the slot, or −1 when memory ran out (nothing kept). */
  private touchAnonymous(mm: AddressSpace, order: number): number {
    const slot = this.freeSlots.pop() ?? this.nextSlot++;
    if (slot >= this.slotLimit) throw new RangeError(`page churn: more than ${this.slotLimit} live movable blocks`);
    const start = this.base + slot * SLOT_PAGES * PAGE_SIZE;
    const one = new Uint8Array([1]);
    try {
      for (let p = 0; p < 1 << order; p++) mm.write(start + p * PAGE_SIZE, one);
      return slot;
    } catch (error) {
      if (!(error instanceof SyscallError)) throw error;
      mm.madvise(start, (1 << order) * PAGE_SIZE, MADV.DONTNEED);
      this.freeSlots.push(slot);
      return -1;
    }
  }

  /** Runs `steps` more steps: frees what expired, then requests one block. */
  run(steps: number): void {
    const pages = this.kernel.pages;
    for (let i = 0; i < steps; i++) {
      const now = this.counters.step++;
      while (this.heap.peekKey() <= now) this.release(this.heap.pop());
      const type = this.prng.weighted(this.arrival);
      const blockType = BLOCK_TYPES[type] as BlockType;
      const order = this.prng.weighted(blockType.orderWeights);
      const life = this.prng.exponential(this.lifetime[type] ?? 1);
      this.counters.requests++;
      let pfn: number | null = -1;
      let slot = -1;
      if (this.mm !== null && blockType.name === 'movable') {
        slot = this.touchAnonymous(this.mm, order);
        if (slot < 0) pfn = null;
      } else {
        pfn = pages.tryAllocPages(order, blockType.gfp | GFP.NORETRY | GFP.NOWARN);
      }
      if (pfn === null) {
        this.counters.failures++;
        continue;
      }
      const handle = this.handle();
      this.pfnOf[handle] = pfn;
      this.slotOf[handle] = slot;
      this.orderOf[handle] = order;
      this.counters.livePages += 1 << order;
      this.heap.push(now + life, handle);
    }
  }

  /** The live anonymous blocks as [vaddr, bytes], by handle (the same ranges in a copy of the arena). */
  liveAnonymousBlocks(): [number, number][] {
    const out: [number, number][] = [];
    for (let handle = 0; handle < this.nextHandle; handle++) {
      const slot = this.slotOf[handle] as number;
      if (slot >= 0) out.push([this.base + slot * SLOT_PAGES * PAGE_SIZE, (1 << (this.orderOf[handle] as number)) * PAGE_SIZE]);
    }
    return out;
  }

  /** Frees every live block. */
  drain(): void {
    while (this.heap.size > 0) this.release(this.heap.pop());
  }

  private handle(): number {
    const reused = this.freeHandles.pop();
    if (reused !== undefined) return reused;
    if (this.nextHandle === this.pfnOf.length) {
      const pfnOf = new Int32Array(this.pfnOf.length * 2);
      pfnOf.set(this.pfnOf);
      this.pfnOf = pfnOf;
      const orderOf = new Uint8Array(this.orderOf.length * 2);
      orderOf.set(this.orderOf);
      this.orderOf = orderOf;
      const slotOf = new Int32Array(this.slotOf.length * 2);
      slotOf.set(this.slotOf);
      this.slotOf = slotOf;
    }
    return this.nextHandle++;
  }
}
