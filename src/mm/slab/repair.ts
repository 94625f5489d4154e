/**
 * Putting a cache right after a worker was killed half-way through one of its slow paths. Linux
 * never faces this (a CPU goes offline between operations); `worker.terminate()` stops a worker at
 * V8's next interrupt check (a function entry, a loop's back edge, an Atomics call's entry),
 * wherever that falls, and runs no `finally` block.
 *
 * Two kinds of damage, two repairs:
 *
 * Structures under a lock the dead worker held. Its next taker runs the lock's repair (lock-word.ts)
 * before its own critical section:
 *   slab lock   repairSlabLists: the slabs are found from struct page (every head page with the
 *               Slab flag and this cache's owner tag; a slab half-way between two lists is on
 *               none), each slab's in-use count is re-derived from its free list (a pop or a push
 *               of a free list is one store, so the list itself is never torn), and the three
 *               lists and C_FREE_IN_SLABS are rebuilt.
 *   depot lock  repairDepot: the two magazine lists are walked (a pop or a push is one store) and
 *               their lengths recounted.
 *
 * Things the dead CPU held between two places. Its hands (types.ts HAND_*) say what, and
 * reclaimCpu, run when the CPU is offlined (in place of the orderly cpuFlushAt), puts each back:
 *   magazines   its loaded and previous magazines and the one in its hands, each once (a magazine
 *               also found on a depot list was already given back: only the CPU's word goes); every
 *               round goes to its slab, top first, leaving the count as it is pushed, unless it is
 *               allocated or already on its slab's free list (putBackIfFree), and the empty
 *               magazine to the depot
 *   object      the one in its hands, the same way, unless a magazine of the depot holds it
 *   slab        one being made or released: if it is on none of the cache's lists and its pages are
 *               still allocated to the making (the dead CPU's slabGrowOwner tag) or the release
 *               (the cache's tag), the pages go back to the page allocator and an off-slab
 *               descriptor to kmem_slab
 * Every step is idempotent and leaves the words that counted a thing as it puts it back, so an
 * offline interrupted by a busy lock (LockBusyError) and retried neither loses nor repeats anything.
 *
 * The hands' rule: one slow path at a time holds a given word of a (cache, CPU). A path nested in
 * another of the same cache (a free answering a drain request flushes the magazines) uses none:
 * flushRounds lets each round leave its magazine's count with the push instead. The one exception
 * is a constructor, run inside a grow with the lock dropped, that frees into its own cache and
 * releases a slab: the grow's slab then leaves the hands early, and a kill in the rest of that
 * constructor leaks the new slab (its pages keep the growing tag, no Slab flag), never frees it.
 *
 * What a kill still costs: the operation under way. An allocation that had taken its object (or
 * pages, or an internal magazine or descriptor) but not returned it leaves it allocated, as a
 * process killed inside malloc() leaks that block; a free cut short before it cleared the state
 * bit leaves the object allocated. Nothing that was free is lost, and validate() passes.
 *
 * Locking: repairSlabLists under the slab lock, repairDepot under the depot lock (each its lock's
 * taker); reclaimCpu takes the depot lock, then the slab lock (their order), for the whole cache.
 */
import { InvariantError } from '../../util/errors.ts';
import { listNodeInit } from '../../util/arena-list.ts';
import { PageFlag } from '../types.ts';
import { SLAB_LIST_LINKS, listCountWord } from './context.ts';
import type { CacheContext } from './context.ts';
import { initObject } from './debug.ts';
import { depotPush } from './depot.ts';
import { internalPut, slabPut, SLAB_LISTS } from './slab-layer.ts';
import {
  C_DEPOT_EMPTY,
  C_DEPOT_FULL,
  C_FREE_IN_SLABS,
  C_NR_DEPOT_EMPTY,
  C_NR_DEPOT_FULL,
  D_CACHE,
  D_INUSE,
  D_OBJS,
  D_PFN_ORDER,
  HAND_DESC,
  HAND_MAG,
  HAND_OBJ,
  HAND_ROUNDS,
  HAND_SLAB,
  P_HANDS,
  P_LOADED,
  P_PREV,
  P_PREV_ROUNDS,
  P_ROUNDS,
  SLAB_OWNER_FALLBACK,
  slabGrowOwner,
  packedOrder, packedPfn,
} from './types.ts';

/** Rebuilds the cache's slab lists and counts from struct page and the slabs' free lists. Slab lock held. */
export function repairSlabLists(ctx: CacheContext): void {
  const w = ctx.w;
  const { flags, owner, private: priv, nrPages } = ctx.services.memMap;
  for (const list of SLAB_LISTS) {
    w[ctx.base + list] = 0;
    w[ctx.base + listCountWord(list)] = 0;
  }
  let freeInSlabs = 0;
  for (let pfn = 0; pfn < nrPages; pfn++) {
    if (((flags[pfn] as number) & PageFlag.Slab) === 0 || ((owner[pfn] as number) & ~SLAB_OWNER_FALLBACK) !== ctx.tag) continue;
    const desc = (priv[pfn] as number) >>> 0;
    if (w[ctx.d(desc, D_CACHE)] !== ctx.tag || packedPfn(w[ctx.d(desc, D_PFN_ORDER)] as number) !== pfn) {
      throw new InvariantError(`${ctx.name} repair: slab page ${pfn} names descriptor 0x${desc.toString(16)}, which describes another slab`);
    }
    const free = [...ctx.freeObjects(desc)].length;
    w[ctx.d(desc, D_INUSE)] = (w[ctx.d(desc, D_OBJS)] as number) - free;
    freeInSlabs += free;
    listNodeInit(w, desc, SLAB_LIST_LINKS);
    ctx.listAdd(desc, ctx.listFor(desc));
  }
  w[ctx.base + C_FREE_IN_SLABS] = freeInSlabs;
}

/** Recounts the depot's two magazine lists. Depot lock held. */
export function repairDepot(ctx: CacheContext): void {
  for (const [list, countWord] of [
    [C_DEPOT_FULL, C_NR_DEPOT_FULL],
    [C_DEPOT_EMPTY, C_NR_DEPOT_EMPTY],
  ] as const) {
    ctx.w[ctx.base + countWord] = depotMembers(ctx, list).size;
  }
}

/**
 * Puts back everything CPU slot `cpu`'s per-CPU words `p` for this cache hold or its hands had
 * (see the file comment). The CPU is offline: no thread runs on it.
 */
export function reclaimCpu(ctx: CacheContext, p: number, cpu: number): void {
  const w = ctx.w;
  const hands = p + P_HANDS;
  ctx.depotLock.acquire();
  try {
    ctx.slabLock.acquire();
    try {
      const inDepot = new Set([...depotMembers(ctx, C_DEPOT_FULL), ...depotMembers(ctx, C_DEPOT_EMPTY)]);
      for (const [magWord, roundsWord] of [
        [p + P_LOADED, p + P_ROUNDS],
        [p + P_PREV, p + P_PREV_ROUNDS],
        [hands + HAND_MAG, hands + HAND_ROUNDS],
      ] as const) {
        const mag = (w[magWord] as number) >>> 0;
        if (mag !== 0 && !inDepot.has(mag)) {
          // Top first, each round leaving the count as it goes back: an offline that meets a busy
          // lock part-way (LockBusyError) and is retried later starts where it stopped.
          for (let i = Math.min(w[roundsWord] as number, ctx.rounds) - 1; i >= 0; i--) putBackIfFree(ctx, (w[(mag >>> 2) + 1 + i] as number) >>> 0, roundsWord, i, false);
          depotPush(ctx, C_DEPOT_EMPTY, mag);
          inDepot.add(mag);
        }
        w[magWord] = 0;
        w[roundsWord] = magWord === hands + HAND_MAG ? 0 : -1;
      }
      const obj = (w[hands + HAND_OBJ] as number) >>> 0;
      if (obj !== 0 && !inFullMagazine(ctx, obj)) putBackIfFree(ctx, obj, hands + HAND_OBJ, 0, true);
      w[hands + HAND_OBJ] = 0;
      reclaimSlab(ctx, hands, cpu);
    } finally {
      ctx.slabLock.release();
    }
  } finally {
    ctx.depotLock.release();
  }
}

/** A slab in the dead CPU's hands, on none of the cache's lists: its pages and descriptor go back. Slab lock held. */
function reclaimSlab(ctx: CacheContext, hands: number, cpu: number): void {
  const w = ctx.w;
  const pfnOrder = w[hands + HAND_SLAB] as number;
  const desc = (w[hands + HAND_DESC] as number) >>> 0;
  if (pfnOrder !== 0) {
    const pfn = packedPfn(pfnOrder);
    const order = packedOrder(pfnOrder);
    const mm = ctx.services.memMap;
    const f = mm.flags[pfn] as number;
    const tag = mm.owner[pfn] as number;
    // Published (repairSlabLists lists every slab page the Slab flag marks): the slab is the cache's.
    const unpublished = (f & (PageFlag.Allocated | PageFlag.Slab)) === PageFlag.Allocated;
    const growing = tag === slabGrowOwner(cpu);
    if (unpublished && (growing || (tag & ~SLAB_OWNER_FALLBACK) === ctx.tag)) {
      // The head keeps its tag until the free (which names it), so that a retried offline finds
      // the pages as they were.
      mm.owner.fill(0, pfn + 1, pfn + (1 << order));
      mm.private.fill(0, pfn, pfn + (1 << order));
      mm.firstObject.fill(0, pfn, pfn + (1 << order));
      if (desc !== 0 && ctx.onSlabHeaderBytes === 0) putDescriptor(ctx, desc, pfnOrder, hands + HAND_DESC);
      w[hands + HAND_DESC] = 0;
      ctx.services.pages.freePages(pfn, order, tag);
    }
  }
  w[hands + HAND_SLAB] = 0;
  w[hands + HAND_DESC] = 0;
}

/**
 * Gives an off-slab descriptor back to kmem_slab if it is still allocated and still describes the
 * slab's pages (a grow names the pages in it as it takes it; one stopped before that leaves it
 * allocated, a leak, never a double free); the hands' word goes with the push. Every give-back
 * (a release's, an earlier try of this offline's) empties that word as it pushes, so a descriptor
 * another CPU has taken since is never named here.
 */
function putDescriptor(ctx: CacheContext, desc: number, pfnOrder: number, handWord: number): void {
  const kmemSlab = ctx.services.descriptorCache();
  if (kmemSlab.state.isAllocated(desc) && ctx.w[ctx.d(desc, D_PFN_ORDER)] === pfnOrder) internalPut(kmemSlab, desc, handWord);
}

/**
 * Returns `addr` to its slab unless it is allocated or already on its slab's free list, and sets
 * `releaseWord` (what counted it: a magazine's rounds, the hands) to `releaseValue` with the push.
 * `freeWork`: first do what a free does to the object before it reaches a magazine or its slab
 * (init_on_free's zeroing; the debug options' poison and inactive red zones), which a free cut
 * short may not have done (a magazine's rounds have had it). Slab lock held.
 */
function putBackIfFree(ctx: CacheContext, addr: number, releaseWord: number, releaseValue: number, freeWork: boolean): void {
  const error = ctx.objectStartError(addr);
  if (error !== null) throw new InvariantError(`${ctx.name} repair: a dead CPU's round or object 0x${addr.toString(16)} is not an object of the cache (${error.message})`);
  if (!ctx.state.isAllocated(addr) && !onFreeList(ctx, addr)) {
    if (freeWork && ctx.zeroOnFree) ctx.bytes.fill(0, addr, addr + ctx.objectSize);
    if (freeWork && ctx.debug) initObject(ctx, addr, false);
    slabPut(ctx, addr, releaseWord, releaseValue);
    return;
  }
  ctx.w[releaseWord] = releaseValue;
}

/** Whether `addr` is on its slab's free list. Slab lock held. */
function onFreeList(ctx: CacheContext, addr: number): boolean {
  for (const obj of ctx.freeObjects(ctx.descOf(addr))) if (obj === addr) return true;
  return false;
}

/** The magazines on one depot list (a cycle is an InvariantError). */
function depotMembers(ctx: CacheContext, list: number): Set<number> {
  const seen = new Set<number>();
  for (let mag = (ctx.w[ctx.base + list] as number) >>> 0; mag !== 0; mag = (ctx.w[mag >>> 2] as number) >>> 0) {
    if (seen.has(mag)) throw new InvariantError(`${ctx.name} repair: depot list ${list === C_DEPOT_FULL ? 'full' : 'empty'} meets magazine 0x${mag.toString(16)} twice`);
    seen.add(mag);
  }
  return seen;
}

/** Whether a full magazine of the depot holds `addr`. Depot lock held. */
function inFullMagazine(ctx: CacheContext, addr: number): boolean {
  for (const mag of depotMembers(ctx, C_DEPOT_FULL)) {
    for (let i = 0; i < ctx.rounds; i++) if ((ctx.w[(mag >>> 2) + 1 + i] as number) >>> 0 === addr) return true;
  }
  return false;
}
