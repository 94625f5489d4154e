/**
 * The slab layer (Bonwick 1994; Linux mm/slub.c's slab lists): slabs of 2^order pages carved into
 * objects, on the cache's empty, partial and full lists, each with a free list threaded through the
 * free objects' link words. Objects leave for the magazine layer (or, for caches without one,
 * straight for their user) and come back here.
 *
 * Allocation prefers a partial slab, then an empty one, then grows the cache by a new slab from the
 * page allocator (GFP.COMP, as SLUB; at the cache's order, falling back to the smallest order that
 * holds one object, as SLUB's s->min). A slab whose last object returns goes on the empty list; at
 * most `minPartial` empty slabs are kept (SLUB's min_partial = clamp(ilog2(size) / 2, 5, 10)), the
 * rest go back to the page allocator at once. shrink() returns every empty slab.
 *
 * Contracts, in the project's three assertion tiers (src/util/arena-list.ts states them):
 *   slabTakeOne  pre: the slab it takes from (partial, else empty, else new) holds a free object:
 *                freelist ≠ 0 and inuse < objs (cheap, always on); post: inuse + 1, the slab on the
 *                list its new count names, C_FREE_IN_SLABS − 1
 *   slabPut      pre: the object's slab has an object in use: inuse > 0 (cheap, always on: a put
 *                into a slab with none is an object already free, or not the slab's); post: the
 *                object heads the slab's freelist, inuse − 1, the slab on the list its count names
 *   both         internal, always on: each list move checks the slab's links (arena-list.ts);
 *                expensive, debug caches only: the whole list re-walked after each move
 *                (CacheContext.listCheck); validate() re-derives every count from the freelists
 * A failed precondition is an InvariantError naming the cache, the slab and the counts, raised
 * before any word changes.
 *
 * Locking: every function here runs with the cache's slab lock held. Inside it, grow calls the
 * page allocator (zone lock) and the descriptor cache (its own slab lock), nesting in that order
 * only: cache slab lock → kmem_slab slab lock → zone lock. grow drops the cache's lock while
 * constructors run, before the new slab is published.
 */
import { ArgumentError, InvariantError } from '../../util/errors.ts';
import { GFP } from '../gfp.ts';
import { PAGE_SIZE, PageFlag } from '../types.ts';
import { listNodeInit } from '../../util/arena-list.ts';
import { FREE_MARK } from './alloc-state.ts';
import { SLAB_LIST_LINKS } from './context.ts';
import type { CacheContext } from './context.ts';
import { initObject } from './debug.ts';
import { SlabFlag, getOrder } from './layout.ts';
import {
  C_COLOUR_MAX,
  C_COLOUR_NEXT,
  C_COLOUR_STEP,
  C_EMPTY,
  C_FREE_IN_SLABS,
  C_FULL,
  C_NR_EMPTY,
  C_PARTIAL,
  CacheStat,
  DESC_BYTES,
  HAND_DESC,
  HAND_OBJ,
  HAND_SLAB,
  D_CACHE,
  D_FREELIST,
  D_INUSE,
  D_OBJS,
  D_PFN_ORDER,
  D_SMEM,
  SLAB_OWNER_FALLBACK,
  packPfnOrder,
} from './types.ts';

/** SLUB's min_partial for a cache of slot `size`. */
function minPartial(size: number): number {
  return Math.min(10, Math.max(5, Math.floor(Math.log2(size) / 2)));
}

/** Takes one free object from the slabs, growing the cache if it must, into this CPU's hands (`hands`: ctx.hands); 0 when memory is exhausted. */
export function slabTakeOne(ctx: CacheContext, hands: number = ctx.hands): number {
  const w = ctx.w;
  let desc = (w[ctx.base + C_PARTIAL] as number) >>> 0;
  if (desc === 0) desc = (w[ctx.base + C_EMPTY] as number) >>> 0;
  if (desc === 0) desc = grow(ctx);
  if (desc === 0) return 0;
  const listBefore = ctx.listFor(desc);
  const addr = (w[ctx.d(desc, D_FREELIST)] as number) >>> 0;
  // Cheap tier: a slab on the partial or empty list has a free object.
  if (addr === 0 || (w[ctx.d(desc, D_INUSE)] as number) >= (w[ctx.d(desc, D_OBJS)] as number)) {
    throw new InvariantError(`${ctx.name}: slab 0x${desc.toString(16)} has freelist 0x${addr.toString(16)} and ${w[ctx.d(desc, D_INUSE)]} of ${w[ctx.d(desc, D_OBJS)]} objects in use; expected a free object on a slab of the partial or empty list`);
  }
  // Into this CPU's hands in the same run of stores as the pop (types.ts HAND_*); the caller clears
  // them where it puts the object (a magazine, or its user once its state bit is set).
  w[hands + HAND_OBJ] = addr;
  w[ctx.d(desc, D_FREELIST)] = w[(addr >>> 2) + ctx.linkWord] as number;
  w[ctx.d(desc, D_INUSE)] = (w[ctx.d(desc, D_INUSE)] as number) + 1;
  const listAfter = ctx.listFor(desc);
  if (listAfter !== listBefore) {
    ctx.listDel(desc, listBefore);
    ctx.listAdd(desc, listAfter);
  }
  w[ctx.base + C_FREE_IN_SLABS] = (w[ctx.base + C_FREE_IN_SLABS] as number) - 1;
  ctx.count(CacheStat.slabAllocs);
  return addr;
}

/**
 * Takes up to `n` objects into w[dst], w[dst + 1], …, keeping w[countWord] equal to how many it
 * took so far (so that an error part-way through loses nothing); returns that count. In lazy mode
 * (alloc-state.ts) each becomes a round here: its state bit set, its mark written.
 */
export function slabTakeInto(ctx: CacheContext, dst: number, n: number, countWord: number): number {
  const hands = ctx.hands;
  try {
    return slabTakeIntoHeld(ctx, dst, n, countWord, hands);
  } finally {
    ctx.w[hands + HAND_OBJ] = 0;
  }
}

function slabTakeIntoHeld(ctx: CacheContext, dst: number, n: number, countWord: number, hands: number): number {
  let taken = 0;
  ctx.w[countWord] = 0;
  while (taken < n) {
    const addr = slabTakeOne(ctx, hands);
    if (addr === 0) break;
    if (ctx.lazy) {
      if (!ctx.state.markAllocated(addr)) throw new InvariantError(`${ctx.name}: object 0x${addr.toString(16)} on a slab free list is marked allocated`);
      ctx.w[(addr >>> 2) + ctx.markWord] = addr ^ FREE_MARK;
    }
    ctx.w[dst + taken] = addr;
    taken++;
    ctx.w[countWord] = taken;
    ctx.w[hands + HAND_OBJ] = 0;
  }
  return taken;
}

/**
 * Returns a free object (its state bit already clear) to its slab. Slab lock held. `releaseWord`,
 * if given, is set to `releaseValue`, and `alsoZero` to 0, in the same run of stores as the push:
 * the object leaves the places that counted it (this CPU's hands, types.ts HAND_*, or a magazine's
 * count) as it reaches the free list, with no point between where a killed thread could stop
 * (repair.ts).
 */
export function slabPut(ctx: CacheContext, addr: number, releaseWord = -1, releaseValue = 0, alsoZero = -1): void {
  const w = ctx.w;
  const desc = ctx.descOf(addr);
  // Cheap tier: the slab has an object in use to take back.
  if ((w[ctx.d(desc, D_INUSE)] as number) <= 0) {
    throw new InvariantError(`${ctx.name}: object 0x${addr.toString(16)} put back into slab 0x${desc.toString(16)}, which has ${w[ctx.d(desc, D_INUSE)]} objects in use; expected at least one (is it free already?)`);
  }
  const listBefore = ctx.listFor(desc);
  w[(addr >>> 2) + ctx.linkWord] = w[ctx.d(desc, D_FREELIST)] as number;
  w[ctx.d(desc, D_FREELIST)] = addr;
  if (releaseWord >= 0) w[releaseWord] = releaseValue;
  if (alsoZero >= 0) w[alsoZero] = 0;
  w[ctx.d(desc, D_INUSE)] = (w[ctx.d(desc, D_INUSE)] as number) - 1;
  w[ctx.base + C_FREE_IN_SLABS] = (w[ctx.base + C_FREE_IN_SLABS] as number) + 1;
  const listAfter = ctx.listFor(desc);
  if (listAfter !== listBefore) {
    ctx.listDel(desc, listBefore);
    ctx.listAdd(desc, listAfter);
  }
  ctx.count(CacheStat.slabFrees);
  if (listAfter === C_EMPTY && (w[ctx.base + C_NR_EMPTY] as number) > minPartial(ctx.size) && mayRelease(ctx)) releaseSlab(ctx, desc);
}

/** A SLAB_TYPESAFE_BY_RCU cache releases empty slabs only where a grace-period hook is set. */
function mayRelease(ctx: CacheContext): boolean {
  return (ctx.flags & SlabFlag.TYPESAFE_BY_RCU) === 0 || ctx.services.deferSlabPages !== null;
}

/** Returns every empty slab to the page allocator; returns the pages freed. */
export function releaseEmptySlabs(ctx: CacheContext): number {
  if (!mayRelease(ctx)) return 0;
  let pages = 0;
  for (let desc = (ctx.w[ctx.base + C_EMPTY] as number) >>> 0; desc !== 0; desc = (ctx.w[ctx.base + C_EMPTY] as number) >>> 0) {
    pages += releaseSlab(ctx, desc);
  }
  return pages;
}

/** Frees one empty slab (pages and descriptor); returns the pages freed. */
function releaseSlab(ctx: CacheContext, desc: number): number {
  const w = ctx.w;
  const hands = ctx.hands;
  const { pfn, order } = ctx.slabPages(desc);
  // In this CPU's hands until the pages are back (repair.ts, reclaimSlab): the head keeps the
  // cache's tag until the free, which names it, so that pages another thread has allocated since
  // are never taken for these.
  w[hands + HAND_DESC] = desc;
  w[hands + HAND_SLAB] = packPfnOrder(pfn, order);
  ctx.listDel(desc, C_EMPTY);
  w[ctx.base + C_FREE_IN_SLABS] = (w[ctx.base + C_FREE_IN_SLABS] as number) - (w[ctx.d(desc, D_OBJS)] as number);
  const mm = ctx.services.memMap;
  const defer = (ctx.flags & SlabFlag.TYPESAFE_BY_RCU) !== 0 ? ctx.services.deferSlabPages : null;
  const headTag = defer !== null ? 0 : (mm.owner[pfn] as number);
  mm.flags[pfn] = (mm.flags[pfn] as number) & ~PageFlag.Slab;
  mm.owner.fill(0, pfn + 1, pfn + (1 << order));
  mm.owner[pfn] = headTag;
  mm.private.fill(0, pfn, pfn + (1 << order));
  mm.firstObject.fill(0, pfn, pfn + (1 << order));
  if (ctx.onSlabHeaderBytes === 0) internalPut(ctx.services.descriptorCache(), desc, hands + HAND_DESC);
  w[hands + HAND_DESC] = 0;
  if (defer !== null) {
    // Out of the hands before the grace period's callback owns the pages (a kill in between leaks them).
    w[hands + HAND_SLAB] = 0;
    defer(pfn, order);
  } else {
    ctx.services.pages.freePages(pfn, order, headTag);
    w[hands + HAND_SLAB] = 0;
  }
  ctx.count(CacheStat.slabsFreed);
  ctx.count(CacheStat.pagesFreed, 1 << order);
  return 1 << order;
}

/** Where an on-slab layout (Bonwick's) keeps a slab's descriptor: the last DESC_BYTES of its pages. */
function onSlabDescriptor(pfn: number, order: number): number {
  return pfn * PAGE_SIZE + (PAGE_SIZE << order) - DESC_BYTES;
}

/** Gives back the pages and descriptor of a slab that was never published (a constructor threw). */
function discardSlab(ctx: CacheContext, desc: number, pfn: number, order: number, growTag: number): void {
  if (ctx.onSlabHeaderBytes === 0) internalPut(ctx.services.descriptorCache(), desc);
  ctx.services.pages.freePages(pfn, order, growTag);
}

/**
 * One object of one of kmem's own magazine-less caches (slab descriptors, magazines), taken under
 * its slab lock and marked allocated; 0 when memory is exhausted.
 */
export function internalTake(cache: CacheContext): number {
  const hands = cache.hands;
  cache.slabLock.acquire();
  try {
    const addr = slabTakeOne(cache);
    if (addr !== 0 && !cache.state.markAllocated(addr)) throw new InvariantError(`${cache.name}: object 0x${addr.toString(16)} on a slab free list is marked allocated`);
    return addr;
  } finally {
    cache.w[hands + HAND_OBJ] = 0;
    cache.slabLock.release();
  }
}

/**
 * Gives back an object internalTake() handed out: marked free, under the cache's slab lock.
 * `handWord`, if given (a slab's HAND_DESC), is zeroed with the push onto the free list.
 */
export function internalPut(cache: CacheContext, addr: number, handWord = -1): void {
  const hands = cache.hands;
  // The lock first: an offline retried after a busy lock (LockBusyError) must find the object as
  // it was. Then in this CPU's hands from before its state bit clears until it is on its slab's
  // free list.
  cache.slabLock.acquire();
  try {
    cache.w[hands + HAND_OBJ] = addr;
    if (!cache.state.markFree(addr)) throw new InvariantError(`${cache.name}: object 0x${addr.toString(16)} given back twice`);
    slabPut(cache, addr, hands + HAND_OBJ, 0, handWord);
  } finally {
    cache.w[hands + HAND_OBJ] = 0;
    cache.slabLock.release();
  }
}

/**
 * Adds a new slab to the empty list; returns its descriptor, or 0 when no pages are free. Called
 * with the slab lock held. A cache with a constructor has its objects constructed with the lock
 * dropped (as SLUB runs constructors outside list_lock), so that a constructor may allocate, even
 * from this cache, and may wait for reclaim; the slab is published only once every object is
 * constructed, and a constructor that throws leaves nothing behind.
 */
function grow(ctx: CacheContext): number {
  const ctor = ctx.ctor;
  if ((ctx.flags & SlabFlag.HAS_CTOR) !== 0 && ctor === undefined) {
    throw new ArgumentError(`cache ${ctx.name} has a constructor this worker did not register: look it up with cache(name, { ctor })`);
  }
  const pages = ctx.services.pages;
  let gfp = GFP.COMP | GFP.NORETRY | GFP.NOWARN;
  if ((ctx.flags & SlabFlag.CACHE_DMA) !== 0) gfp |= GFP.DMA;
  if ((ctx.flags & SlabFlag.RECLAIM_ACCOUNT) !== 0) gfp |= GFP.RECLAIMABLE;
  // This CPU's growing tag until the slab is published: pages of the cache's tag are a slab's
  // (validate()), and a CPU killed before the publish is known by it (repair.ts).
  const growTag = ctx.services.growOwner();
  let order = ctx.order;
  let pfn = pages.tryAllocPages(order, gfp, growTag);
  const minOrder = getOrder(ctx.size + ctx.onSlabHeaderBytes);
  let fellBack = false;
  if (pfn === null && minOrder < order) {
    order = minOrder;
    pfn = pages.tryAllocPages(order, gfp, growTag);
    fellBack = pfn !== null;
  }
  if (pfn === null) return 0;
  const w = ctx.w;
  const hands = ctx.hands;
  w[hands + HAND_DESC] = 0;
  w[hands + HAND_SLAB] = packPfnOrder(pfn, order);
  const slabBase = pfn * PAGE_SIZE;
  const slabBytes = PAGE_SIZE << order;
  let desc: number;
  if (ctx.onSlabHeaderBytes > 0) {
    desc = onSlabDescriptor(pfn, order);
  } else {
    desc = internalTake(ctx.services.descriptorCache());
    // Named in the hands, and naming the pages, in one run of stores (repair.ts frees a descriptor
    // only while it describes the slab's pages: another CPU may reuse one given back).
    if (desc !== 0) w[(desc >>> 2) + D_PFN_ORDER] = packPfnOrder(pfn, order);
    w[hands + HAND_DESC] = desc;
    if (desc === 0) {
      w[hands + HAND_SLAB] = 0;
      pages.freePages(pfn, order, growTag);
      return 0;
    }
  }
  // Bonwick's colouring: each new slab starts its objects one colour further on.
  let colour = 0;
  if (order === ctx.order) {
    colour = w[ctx.base + C_COLOUR_NEXT] as number;
    const next = colour + (w[ctx.base + C_COLOUR_STEP] as number);
    w[ctx.base + C_COLOUR_NEXT] = next > (w[ctx.base + C_COLOUR_MAX] as number) ? 0 : next;
  }
  const objs = order === ctx.order ? ctx.objs : Math.floor((slabBytes - ctx.onSlabHeaderBytes) / ctx.size);
  const smem = slabBase + colour + ctx.redLeftPad;
  w[ctx.d(desc, D_CACHE)] = ctx.tag;
  w[ctx.d(desc, D_INUSE)] = 0;
  w[ctx.d(desc, D_SMEM)] = smem;
  w[ctx.d(desc, D_OBJS)] = objs;
  w[ctx.d(desc, D_PFN_ORDER)] = packPfnOrder(pfn, order);
  listNodeInit(w, desc, SLAB_LIST_LINKS);
  // Thread the free list through the objects (their state bits are clear: freed pages have none
  // set); in lazy mode every free object also carries its mark (alloc-state.ts).
  const marked = ctx.lazy && !ctx.markIsLink;
  for (let i = 0; i < objs; i++) {
    const obj = smem + i * ctx.size;
    w[(obj >>> 2) + ctx.linkWord] = i + 1 < objs ? obj + ctx.size : 0;
    if (marked) w[(obj >>> 2) + ctx.markWord] = obj ^ FREE_MARK;
    if (ctx.debug) initObject(ctx, obj, false);
  }
  w[ctx.d(desc, D_FREELIST)] = smem;
  if (ctor !== undefined) {
    ctx.slabLock.release();
    try {
      for (let i = 0; i < objs; i++) ctor(smem + i * ctx.size);
    } catch (error) {
      ctx.slabLock.acquire();
      w[hands + HAND_SLAB] = 0;
      w[hands + HAND_DESC] = 0;
      discardSlab(ctx, desc, pfn, order, growTag);
      throw error;
    }
    ctx.slabLock.acquire();
    // destroyCache refuses while a CPU's hands hold a slab being made (checkNotGrowing).
    if (!ctx.current) throw new InvariantError(`${ctx.name}: destroyed while CPU hands held a slab of it being made (pfn ${pfn}, order ${order})`);
  }
  // Publish: mark the pages as this slab's, the Slab flag last (a slab of the cache's tag with the
  // flag is one repairSlabLists lists; without it, one reclaimSlab frees), and list it.
  const mm = ctx.services.memMap;
  mm.owner.fill(order === ctx.order ? ctx.tag : ctx.tag | SLAB_OWNER_FALLBACK, pfn, pfn + (1 << order));
  mm.private.fill(desc, pfn, pfn + (1 << order));
  mm.firstObject.fill(smem, pfn, pfn + (1 << order));
  mm.flags[pfn] = (mm.flags[pfn] as number) | PageFlag.Slab;
  ctx.listAdd(desc, C_EMPTY);
  w[ctx.base + C_FREE_IN_SLABS] = (w[ctx.base + C_FREE_IN_SLABS] as number) + objs;
  w[hands + HAND_SLAB] = 0;
  w[hands + HAND_DESC] = 0;
  ctx.count(CacheStat.slabsCreated);
  if (fellBack) ctx.count(CacheStat.orderFallbacks);
  return desc;
}

/** Slab lists a descriptor can be on, in the order validate() walks them. */
export const SLAB_LISTS = [C_PARTIAL, C_FULL, C_EMPTY] as const;
