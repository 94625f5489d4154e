/**
 * The magazine layer's shared half (Bonwick & Adams, "Magazines and Vmem", USENIX 2001, §3): the
 * depot of full and empty magazines of a cache, under its depot lock, and the moves of whole
 * magazines between a CPU and the depot.
 *
 * A magazine is an object of the cache's kmem_magazine_<M> cache: word 0 links it on a depot list,
 * words 1..M hold object addresses. The depot only ever holds full or empty magazines.
 *
 * Locking: depot lists under the depot lock; magazines come from and go back to the magazine cache
 * under that cache's slab lock; rounds flushed to the slab layer go under the cache's slab lock.
 * Order: depot lock → slab lock (of this cache or the magazine cache), never the reverse.
 */
import type { KmemCache } from './cache.ts';
import type { CacheContext } from './context.ts';
import { InvariantError } from '../../util/errors.ts';
import { internalPut, internalTake, slabPut } from './slab-layer.ts';
import {
  C_DEPOT_EMPTY,
  C_DEPOT_FULL,
  C_NR_DEPOT_EMPTY,
  C_NR_DEPOT_FULL,
  HAND_MAG,
  HAND_ROUNDS,
  P_LOADED,
  P_PREV,
  P_PREV_ROUNDS,
  P_ROUNDS,
} from './types.ts';

/**
 * Pops a magazine from a depot list (C_DEPOT_FULL or C_DEPOT_EMPTY); 0 if none. Depot lock held.
 * With `handWord`, the magazine goes into those hands (types.ts HAND_MAG) in the same run of
 * stores as the pop: before it, another CPU could still take it from the depot.
 */
export function depotPop(ctx: CacheContext, list: number, handWord = -1): number {
  const w = ctx.w;
  const mag = (w[ctx.base + list] as number) >>> 0;
  if (mag === 0) return 0;
  if (handWord >= 0) w[handWord] = mag;
  w[ctx.base + list] = w[mag >>> 2] as number;
  const countWord = list === C_DEPOT_FULL ? C_NR_DEPOT_FULL : C_NR_DEPOT_EMPTY;
  w[ctx.base + countWord] = (w[ctx.base + countWord] as number) - 1;
  return mag;
}

/** Pushes a magazine on a depot list. Depot lock held. */
export function depotPush(ctx: CacheContext, list: number, mag: number): void {
  const w = ctx.w;
  w[mag >>> 2] = w[ctx.base + list] as number;
  w[ctx.base + list] = mag;
  const countWord = list === C_DEPOT_FULL ? C_NR_DEPOT_FULL : C_NR_DEPOT_EMPTY;
  w[ctx.base + countWord] = (w[ctx.base + countWord] as number) + 1;
}

/** A new, empty magazine from the magazine cache; 0 when memory is exhausted. */
export function magazineAlloc(ctx: CacheContext): number {
  return internalTake(ctx.services.internalCache(ctx.magazineIndex));
}

/**
 * Returns a magazine's rounds to the slab layer, top first, the word `countWord` counting those
 * left (the magazine itself stays). Each round leaves the count in the same run of stores as it
 * reaches its slab's free list (slabPut's release word), so that a thread killed part-way leaves
 * each round in exactly one place (repair.ts), and no hands are used: a free in progress may be
 * holding this CPU's (freeSlow answers another CPU's drain request here). In lazy mode
 * (alloc-state.ts) this is where their state bits are cleared.
 */
export function flushRounds(ctx: CacheContext, mag: number, countWord: number): void {
  const rounds = Math.min(ctx.w[countWord] as number, ctx.rounds);
  if (rounds <= 0) return;
  ctx.slabLock.acquire();
  try {
    for (let i = rounds - 1; i >= 0; i--) {
      const addr = (ctx.w[(mag >>> 2) + 1 + i] as number) >>> 0;
      if (ctx.lazy && !ctx.state.markFree(addr)) throw new InvariantError(`${ctx.name}: magazine round 0x${addr.toString(16)} has its state bit clear`);
      slabPut(ctx, addr, countWord, i);
    }
  } finally {
    ctx.slabLock.release();
  }
}

/**
 * Calls `visit` with every round of every magazine of the cache — each CPU's loaded and previous
 * magazine (CPU `cpu`'s per-CPU words at pcpuWord(cpu)), then the depot's full ones — until it
 * answers true; returns whether one did. Reads without locks: exact only where nothing moves the
 * magazines meanwhile (a lazy-state arena, which one thread uses; alloc-state.ts).
 */
export function someRound(ctx: CacheContext, cpus: number, pcpuWord: (cpu: number) => number, visit: (addr: number) => boolean): boolean {
  const w = ctx.w;
  const rounds = (mag: number, n: number): boolean => {
    for (let i = 0; i < n && i < ctx.rounds; i++) {
      if (visit((w[(mag >>> 2) + 1 + i] as number) >>> 0)) return true;
    }
    return false;
  };
  for (let cpu = 0; cpu < cpus; cpu++) {
    const p = pcpuWord(cpu);
    if (rounds((w[p + P_LOADED] as number) >>> 0, w[p + P_ROUNDS] as number)) return true;
    if (rounds((w[p + P_PREV] as number) >>> 0, w[p + P_PREV_ROUNDS] as number)) return true;
  }
  let mag = (w[ctx.base + C_DEPOT_FULL] as number) >>> 0;
  for (let n = w[ctx.base + C_NR_DEPOT_FULL] as number; mag !== 0 && n > 0; n--) {
    if (rounds(mag, ctx.rounds)) return true;
    mag = (w[mag >>> 2] as number) >>> 0;
  }
  return false;
}

/**
 * Gives this CPU's magazines back. By default (a worker detaching, a cache being shrunk from this
 * CPU) full ones go to the depot's full list and empty ones to its empty list, a partly full one
 * first returning its rounds to the slabs. With `toSlabs` (another CPU asked for memory back) every
 * round goes to the slabs and the empty magazines to the depot, so that the asker's next shrink can
 * free the slabs.
 */
export function cpuFlush(ctx: KmemCache, toSlabs = false): void {
  cpuFlushAt(ctx, ctx.pcpu, toSlabs);
}

/**
 * cpuFlush() of the per-CPU words at `p` (any CPU's: offlining one that stopped). Restartable: the
 * words change only after each step is done (rounds to 0 once they are in the slabs, the magazine
 * word to 0 once it is in the depot), so that an offline that met a busy lock (LockBusyError) and
 * is tried again neither loses nor repeats a round.
 */
export function cpuFlushAt(ctx: CacheContext, p: number, toSlabs: boolean): void {
  const w = ctx.w;
  const slots: [number, number][] = [
    [P_LOADED, P_ROUNDS],
    [P_PREV, P_PREV_ROUNDS],
  ];
  for (const [magWord, roundsWord] of slots) {
    const mag = (w[p + magWord] as number) >>> 0;
    if (mag === 0) {
      w[p + roundsWord] = -1;
      continue;
    }
    const rounds = w[p + roundsWord] as number;
    const keepFull = rounds === ctx.rounds && !toSlabs;
    if (rounds > 0 && !keepFull) flushRounds(ctx, mag, p + roundsWord);
    ctx.depotLock.acquire();
    try {
      // The push and the words' release in one run of stores: in between, another CPU could take
      // the magazine from the depot while these words still named it.
      depotPush(ctx, keepFull ? C_DEPOT_FULL : C_DEPOT_EMPTY, mag);
      w[p + magWord] = 0;
      w[p + roundsWord] = -1;
    } finally {
      ctx.depotLock.release();
    }
  }
}

/** Empties the depot: rounds of full magazines to the slabs, every magazine to the magazine cache. */
export function depotPurge(ctx: CacheContext): void {
  for (const list of [C_DEPOT_FULL, C_DEPOT_EMPTY]) {
    const hands = ctx.hands;
    for (;;) {
      ctx.depotLock.acquire();
      let mag: number;
      try {
        // In this CPU's hands from before the pop until its rounds are in the slabs (types.ts HAND_*).
        ctx.w[hands + HAND_ROUNDS] = list === C_DEPOT_FULL ? ctx.rounds : 0;
        mag = depotPop(ctx, list, hands + HAND_MAG);
      } finally {
        ctx.depotLock.release();
      }
      try {
        if (mag === 0) break;
        flushRounds(ctx, mag, hands + HAND_ROUNDS);
      } finally {
        ctx.w[hands + HAND_MAG] = 0;
      }
      internalPut(ctx.services.internalCache(ctx.magazineIndex), mag);
    }
  }
}
