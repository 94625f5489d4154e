/**
 * KmemCache: one worker's handle on an object cache, with the magazine layer's per-CPU half
 * (Bonwick & Adams 2001, §3.1) as its fast path.
 *
 * Fast path (no lock): alloc pops the top round of this CPU's loaded magazine and changes its
 * allocation state; free checks the address (a slab page of this cache, an object's first byte,
 * allocated), changes its state and pushes it. The state is outside the objects (alloc-state.ts):
 * a bit per object changed by both paths (eager: shared arenas, one atomic each), or a bit that
 * only moves with the slab layer plus a mark word in free rounds (lazy: plain arenas). Both are
 * this worker's CpuSlab paths (cpu-slab.ts) on this handle's row, the code kmalloc and kfree run too.
 *
 * Everything else is the slow path: exchange with the previous magazine when that is full (alloc)
 * or empty (free); else trade with the depot; else fill the loaded magazine from the slab layer in
 * one batch (alloc; Linux's sheaves refill the same way) or take a new empty magazine (free); else
 * go to the slab layer with the single object. Caches with debug flags or no magazine layer always take the slow path, as
 * SLUB's debug caches bypass its per-CPU fast path; init_on_alloc zeroes on the fast alloc path,
 * and init_on_free caches free through the checked path, which zeroes the object first.
 *
 * Of two workers freeing one object at the same moment exactly one wins (eager mode's atomic bit
 * change); an eager alloc that finds a round's bit already set drops it with DuplicateObjectError
 * instead of handing it out twice.
 *
 * A handle belongs to the CPU slot its allocator claimed. After detach() its round-count word points
 * at a header word that always holds −1, so its fast paths fall to the slow path, which claims a
 * slot again. A handle to a destroyed cache raises CacheDestroyedError on its slow path; its fast
 * free already fails, because the owner tag of the slot's pages changed with its generation.
 *
 * Out of memory: null with GFP.NORETRY; otherwise the kernel's shrinkers run (every slab cache
 * gives back empty slabs) and the allocation is retried once before an OutOfMemoryError.
 */
import { OutOfMemoryError } from '../errors.ts';
import { GFP, GFP_VALID_MASK } from '../gfp.ts';
import type { LockWord } from '../../sync/lock-word.ts';
import { FREE_MARK } from './alloc-state.ts';
import { CacheContext } from './context.ts';
import { ROW_WORDS } from './cpu-slab.ts';
import type { CpuSlab } from './cpu-slab.ts';
import { checkObject, initObject } from './debug.ts';
import { cpuFlush, depotPop, depotPurge, depotPush, magazineAlloc } from './depot.ts';
import { CacheDestroyedError, DuplicateObjectError, SlabDoubleFreeError } from './errors.ts';
import { SlabFlag } from './layout.ts';
import { releaseEmptySlabs, slabPut, slabTakeInto, slabTakeOne } from './slab-layer.ts';
import {
  C_DEPOT_EMPTY,
  C_DEPOT_FULL,
  C_DRAIN_GEN,
  CacheStat,
  GFP_MAY_FAIL,
  HAND_MAG,
  HAND_OBJ,
  HAND_ROUNDS,
  P_DRAIN_GEN,
  P_HANDS,
  P_LOADED,
  P_PREV,
  P_PREV_ROUNDS,
  P_ROUNDS,
  P_STATS,
  PCPU_WORDS,
  PcpuStat,
} from './types.ts';

/** Reloads a slow path may try before it gives up (each one changes the CPU's magazines). */
const SLOW_PATH_STEPS = 6;

export class KmemCache extends CacheContext {
  /** Word index of this worker's per-CPU words for this cache (moves when the handle rebinds). @internal */
  pcpu = this.services.pcpuBase + this.index * PCPU_WORDS;
  private bound = true;
  /** This worker's fast paths (cpu-slab.ts), and this handle's row there (deadRow once retired). */
  private readonly cpu: CpuSlab = this.services.cpuSlab;
  private row = this.index * ROW_WORDS;

  constructor(...args: ConstructorParameters<typeof CacheContext>) {
    super(...args);
    // Fast frees only where nothing but the allocation state changes: not slow-only or init_on_free caches.
    const fastFree = !this.slowOnly && !this.zeroOnFree;
    // Alloc-time work: init_on_alloc zeroes the object (objects of caches with a constructor keep
    // their constructed state instead); init_on_free wipes the link word it still holds (SLUB's
    // maybe_wipe_obj_freeptr).
    const zeroOnAlloc = (this.flags & (SlabFlag.INIT_ON_ALLOC | SlabFlag.HAS_CTOR)) === SlabFlag.INIT_ON_ALLOC;
    const init = zeroOnAlloc ? this.objectSize : this.zeroOnFree ? -1 - this.linkWord : 0;
    this.cpu.bind(this.row, this, fastFree, init);
    this.syncLoaded();
  }

  /**
   * Allocates one object and returns its address. `gfp` defaults to GFP.KERNEL (0); it matters
   * only on the slow path. Exhausted memory: the shrinkers run (not with GFP.NORETRY), then
   * OutOfMemoryError. tryAlloc() answers null instead.
   */
  alloc(gfp?: number): number {
    const addr = this.cpu.alloc(this.row);
    // Without GFP_MAY_FAIL the slow path returns an address or throws (outOfMemory()).
    return addr !== 0 ? addr : (this.allocSlow((gfp ?? GFP.KERNEL) & ~GFP_MAY_FAIL) as number);
  }

  /** alloc() with GFP.NORETRY: null at once when memory is exhausted (no shrinkers, no error). */
  tryAlloc(gfp?: number): number | null {
    const addr = this.cpu.alloc(this.row);
    return addr !== 0 ? addr : this.allocSlow((gfp ?? GFP.KERNEL) | GFP.NORETRY | GFP_MAY_FAIL);
  }

  /** Frees an object this cache handed out (by any worker). */
  free(addr: number): void {
    if (!this.cpu.free(addr, this.row)) this.freeChecked(addr);
  }

  /** Pushes a freed object (state bit clear) on the loaded magazine, or takes the slow path when it is full. */
  private push(addr: number): void {
    if (!this.cpu.push(this.row, addr)) this.freeSlow(addr);
  }

  /** Returns this CPU's magazines to the depot (call before a worker exits). */
  drain(): void {
    if (this.slowOnly || !this.bound) return;
    cpuFlush(this);
    this.syncLoaded();
  }

  /** Detaches the handle from its CPU slot (SlabAllocator.detach): later use rebinds it. @internal */
  unbind(): void {
    this.bound = false;
    this.cpu.load(this.row, this.services.neverWord, 0);
  }

  /**
   * This handle no longer names a live cache (destroyed, or its slot reused): its fast paths use
   * the row that never hits, and, unbound, it never touches the slot's per-CPU words again (they
   * may be the next cache's); its slow path raises CacheDestroyedError.
   * @internal
   */
  retire(): void {
    this.bound = false;
    this.row = this.cpu.deadRow;
  }

  /**
   * kmem_cache_shrink(): this CPU's magazines and the depot's go back to the slabs, every empty
   * slab goes back to the page allocator, and every other CPU is asked to return its magazines at
   * its next slow path. Returns the pages freed.
   */
  shrink(): number {
    this.ensureUsable();
    // Slabs emptied by the purge below are freed as they empty (slabPut), not by the final
    // releaseEmptySlabs(), and so may slabs of kmem_slab and of the magazine cache: the page
    // count is the change of those caches' counters over the whole shrink.
    const before = this.pagesFreedHere();
    if (!this.slowOnly) {
      this.drain();
      depotPurge(this);
      this.addWord(C_DRAIN_GEN, 1);
      this.w[this.pcpu + P_DRAIN_GEN] = this.loadWord(C_DRAIN_GEN);
    }
    this.lockLive(this.slabLock);
    try {
      releaseEmptySlabs(this);
    } finally {
      this.slabLock.release();
    }
    return this.pagesFreedHere() - before;
  }

  /** Pages freed so far by this cache, its magazine cache and kmem_slab (CacheStat.pagesFreed). */
  private pagesFreedHere(): number {
    let pages = this.stat('pagesFreed') + this.services.descriptorCache().stat('pagesFreed');
    if (this.magazineIndex >= 0) pages += this.services.internalCache(this.magazineIndex).stat('pagesFreed');
    return pages;
  }

  // ---- slow paths ----

  /** Word index of round 0 of this CPU's loaded magazine. */
  private loadedWord(): number {
    return (((this.w[this.pcpu + P_LOADED] as number) >>> 0) >>> 2) + 1;
  }

  /** Points the fast paths at this CPU's loaded magazine (its round count and round 0). */
  private syncLoaded(): void {
    this.cpu.load(this.row, this.pcpu + P_ROUNDS, this.loadedWord());
  }

  /** The slow paths' entry: the cache must still exist, and the handle must own a CPU slot. */
  private ensureUsable(): void {
    if (!this.current) throw new CacheDestroyedError(this.name);
    if (!this.bound) {
      this.pcpu = this.services.pcpuBase + this.index * PCPU_WORDS;
      this.bound = true;
      this.syncLoaded();
    }
  }

  /** Another CPU asked for memory back (shrink): every round goes to the slabs. */
  private checkDrainRequest(): void {
    const gen = this.loadWord(C_DRAIN_GEN);
    if (this.w[this.pcpu + P_DRAIN_GEN] !== gen) {
      cpuFlush(this, true);
      this.w[this.pcpu + P_DRAIN_GEN] = gen;
    }
    this.syncLoaded();
  }

  private swapMagazines(): void {
    const w = this.w;
    const p = this.pcpu;
    const mag = w[p + P_LOADED] as number;
    const rounds = w[p + P_ROUNDS] as number;
    w[p + P_LOADED] = w[p + P_PREV] as number;
    w[p + P_ROUNDS] = w[p + P_PREV_ROUNDS] as number;
    w[p + P_PREV] = mag;
    w[p + P_PREV_ROUNDS] = rounds;
    const stat = (p + P_STATS) / 2 + PcpuStat.magazineSwaps;
    this.f64[stat] = (this.f64[stat] as number) + 1;
    this.syncLoaded();
  }

  private allocSlow(gfp: number): number | null {
    this.ensureUsable();
    if (this.slowOnly) return this.allocDirect(gfp);
    this.checkDrainRequest();
    const w = this.w;
    const p = this.pcpu;
    const hands = p + P_HANDS;
    let retried = false;
    for (let step = 0; step < SLOW_PATH_STEPS; step++) {
      if ((w[p + P_ROUNDS] as number) > 0) return (gfp & GFP_MAY_FAIL) !== 0 ? this.tryAlloc(gfp) : this.alloc(gfp);
      if (w[p + P_PREV_ROUNDS] === this.rounds) {
        this.swapMagazines();
        continue;
      }
      this.lockLiveOrAbandon(this.depotLock);
      let full = 0;
      try {
        // The full magazine is in this CPU's hands from before the pop until it is loaded, the
        // previous one (empty) in the depot before it leaves the CPU's words (types.ts HAND_*).
        w[hands + HAND_ROUNDS] = this.rounds;
        full = depotPop(this, C_DEPOT_FULL, hands + HAND_MAG);
        if (full !== 0) {
          const prev = (w[p + P_PREV] as number) >>> 0;
          if (prev !== 0) depotPush(this, C_DEPOT_EMPTY, prev);
          w[p + P_PREV] = w[p + P_LOADED] as number;
          w[p + P_PREV_ROUNDS] = w[p + P_ROUNDS] as number;
          w[p + P_LOADED] = full;
          w[p + P_ROUNDS] = this.rounds;
          this.count(CacheStat.depotFullHits);
        }
      } finally {
        w[hands + HAND_MAG] = 0;
        this.depotLock.release();
      }
      if (full !== 0) {
        this.syncLoaded();
        continue;
      }
      let mag = (w[p + P_LOADED] as number) >>> 0;
      if (mag === 0) {
        mag = magazineAlloc(this);
        if (mag === 0) return this.allocDirect(gfp);
        w[p + P_LOADED] = mag;
        w[p + P_ROUNDS] = 0;
        this.syncLoaded();
      }
      this.lockLiveOrAbandon(this.slabLock);
      let n: number;
      try {
        n = slabTakeInto(this, this.loadedWord(), this.rounds, p + P_ROUNDS);
      } finally {
        this.slabLock.release();
      }
      if (n > 0) continue;
      if (retried || !this.reclaim(gfp)) return this.outOfMemory(gfp);
      retried = true;
    }
    return this.allocDirect(gfp);
  }

  /** One object straight from the slab layer, with the debug checks and the init options. */
  private allocDirect(gfp: number): number | null {
    const hands = this.hands;
    try {
      return this.allocDirectHeld(gfp);
    } finally {
      // Taken (slabTakeOne put it in this CPU's hands) and now its user's, or put back, or never taken.
      this.w[hands + HAND_OBJ] = 0;
    }
  }

  /** allocDirect's work; the object it takes is in this CPU's hands until allocDirect clears them. */
  private allocDirectHeld(gfp: number): number | null {
    let addr = 0;
    for (let attempt = 0; attempt < 2 && addr === 0; attempt++) {
      this.lockLiveOrAbandon(this.slabLock);
      try {
        addr = slabTakeOne(this);
        if (addr !== 0 && this.debug) {
          try {
            checkObject(this, addr, false);
          } catch (error) {
            slabPut(this, addr);
            throw error;
          }
        }
      } finally {
        this.slabLock.release();
      }
      if (addr === 0 && (attempt > 0 || !this.reclaim(gfp))) return this.outOfMemory(gfp);
    }
    if (!this.state.markAllocated(addr)) throw new DuplicateObjectError(addr, this.name);
    // A lazy object coming from its slab may still carry the mark it had as a round.
    if (this.lazy) this.w[(addr >>> 2) + this.markWord] = 0;
    if (this.debug) initObject(this, addr, true);
    this.cpu.initObject(this.row, addr);
    return addr;
  }

  /** Free for slow-only caches: debug checks, init_on_free, then the slab layer. Still allocated. */
  private freeDirect(addr: number): void {
    const hands = this.hands;
    this.lockLive(this.slabLock);
    try {
      if (!this.state.isAllocated(addr)) throw new SlabDoubleFreeError(addr, this.name);
      if (this.debug) checkObject(this, addr, true);
      // In this CPU's hands from before its state bit clears until it is on its slab's free list.
      this.w[hands + HAND_OBJ] = addr;
      if (!this.state.markFree(addr)) throw new SlabDoubleFreeError(addr, this.name);
      if (this.zeroOnFree) this.bytes.fill(0, addr, addr + this.objectSize);
      if (this.debug) initObject(this, addr, false);
      slabPut(this, addr, hands + HAND_OBJ);
    } finally {
      this.w[hands + HAND_OBJ] = 0;
      this.slabLock.release();
    }
  }

  /** The loaded magazine is full or missing; the object's state is already free (bit clear, or lazy: marked). */
  private freeSlow(addr: number): void {
    this.ensureUsable();
    this.checkDrainRequest();
    const w = this.w;
    const p = this.pcpu;
    const hands = p + P_HANDS;
    for (let step = 0; step < SLOW_PATH_STEPS; step++) {
      // Every step below re-points the row at this CPU's magazines (syncLoaded), so the fast push serves.
      if (this.cpu.push(this.row, addr)) return;
      if (w[p + P_PREV_ROUNDS] === 0) {
        this.swapMagazines();
        continue;
      }
      this.lockLiveOrAbandon(this.depotLock);
      let empty = 0;
      try {
        // In this CPU's hands from before the pop until installEmpty loads it (types.ts HAND_*).
        w[hands + HAND_ROUNDS] = 0;
        empty = depotPop(this, C_DEPOT_EMPTY, hands + HAND_MAG);
        if (empty !== 0) {
          this.installEmpty(empty);
          this.count(CacheStat.depotEmptyHits);
        }
      } finally {
        w[hands + HAND_MAG] = 0;
        this.depotLock.release();
      }
      if (empty !== 0) continue;
      const mag = magazineAlloc(this);
      if (mag === 0) break;
      w[hands + HAND_ROUNDS] = 0;
      w[hands + HAND_MAG] = mag;
      try {
        this.lockLiveOrAbandon(this.depotLock);
        try {
          this.installEmpty(mag);
        } finally {
          this.depotLock.release();
        }
      } finally {
        w[hands + HAND_MAG] = 0;
      }
    }
    this.lockLiveOrAbandon(this.slabLock);
    try {
      if (this.lazy && !this.state.markFree(addr)) throw new SlabDoubleFreeError(addr, this.name);
      slabPut(this, addr, hands + HAND_OBJ);
    } finally {
      this.slabLock.release();
    }
  }

  /**
   * lockLive(), and when the cache was destroyed meanwhile, this CPU gives back the (empty)
   * magazines it took for it before it throws, under the table lock, unless the slot already
   * holds another cache (whose creation reset these words).
   */
  private lockLiveOrAbandon(lock: LockWord): void {
    try {
      this.lockLive(lock);
    } catch (error) {
      if (error instanceof CacheDestroyedError && this.bound) this.services.abandonMagazines(this);
      throw error;
    }
  }

  /** Previous (full, if any) to the depot, loaded to previous, `mag` (empty) loaded. Depot lock held. */
  private installEmpty(mag: number): void {
    const w = this.w;
    const p = this.pcpu;
    const prev = (w[p + P_PREV] as number) >>> 0;
    if (prev !== 0) depotPush(this, C_DEPOT_FULL, prev);
    w[p + P_PREV] = w[p + P_LOADED] as number;
    w[p + P_PREV_ROUNDS] = w[p + P_ROUNDS] as number;
    w[p + P_LOADED] = mag;
    w[p + P_ROUNDS] = 0;
    this.syncLoaded();
  }

  /** Runs the kernel's shrinkers; whether they freed anything. */
  private reclaim(gfp: number): boolean {
    if ((gfp & GFP.NORETRY) !== 0) return false;
    return this.services.pages.shrinkers.shrinkAll() > 0;
  }

  /** null for tryAlloc(); an error for alloc() (with or without GFP.NORETRY). */
  private outOfMemory(gfp: number): null {
    if ((gfp & GFP_MAY_FAIL) !== 0) return null;
    throw new OutOfMemoryError(this.order, gfp & GFP_VALID_MASK, 'exhausted', `cache ${this.name} cannot grow: no free block of order ${this.order}`);
  }

  /**
   * The fast path's checks did not pass: a slow-only cache, a fallback-order slab's object, a full
   * magazine, or a bad address. Checks everything, then frees or throws. kfree comes here straight
   * after its own fast path missed.
   * @internal
   */
  freeChecked(addr: number): void {
    const error = this.objectStartError(addr, 'free');
    if (error !== null) throw error;
    // Lazy: exact, a search of the magazines when the object carries a round's mark (alloc-state.ts).
    if (this.isFree(addr)) throw new SlabDoubleFreeError(addr, this.name);
    if (!this.current) throw new CacheDestroyedError(this.name);
    if (this.slowOnly) return this.freeDirect(addr);
    if (this.lazy) {
      if (this.zeroOnFree) this.bytes.fill(0, addr, addr + this.objectSize);
      this.w[(addr >>> 2) + this.markWord] = addr ^ FREE_MARK;
      this.push(addr);
      return;
    }
    // In this CPU's hands from before its state bit clears until a magazine or its slab has it
    // (types.ts HAND_*), so that offlining this CPU puts it back if the thread is killed between.
    this.ensureUsable();
    const hands = this.pcpu + P_HANDS;
    this.w[hands + HAND_OBJ] = addr;
    try {
      // The state change is the one step two racing frees cannot both pass (alloc-state.ts).
      if (!this.state.markFree(addr)) throw new SlabDoubleFreeError(addr, this.name);
      if (this.zeroOnFree) this.bytes.fill(0, addr, addr + this.objectSize);
      this.push(addr);
    } finally {
      this.w[hands + HAND_OBJ] = 0;
    }
  }
}
