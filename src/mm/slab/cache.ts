/**
 * KmemCache: one worker's handle on an object cache, with the magazine layer's per-CPU half
 * (Bonwick & Adams 2001, §3.1) as its fast path.
 *
 * Fast path (no lock, no Atomics): alloc pops the top round of this CPU's loaded magazine and
 * clears the object's free marker; free checks the address (a slab page of this cache, an object's
 * first byte, marker not already set), sets the marker and pushes it. Everything else is the slow
 * path: exchange with the previous magazine when that is full (alloc) or empty (free); else trade
 * with the depot; else fill the loaded magazine from the slab layer in one batch (alloc; Linux's
 * sheaves refill the same way) or take a new empty magazine (free); else go to the slab layer with
 * the single object. Caches with debug flags or no magazine layer always take the slow path, as
 * SLUB's debug caches bypass its per-CPU fast path; init_on_alloc zeroes on the fast alloc path,
 * and init_on_free caches free through the checked path, which zeroes the object first.
 *
 * Over a shared arena, alloc also checks the popped round's free marker: a round whose marker is
 * not set is held by someone already (two workers freed it at the same moment, racing past each
 * other's checks), and it is dropped with a DuplicateObjectError instead of being handed out twice.
 * One thread cannot race itself, so over a plain ArrayBuffer the free-time check is exact and alloc
 * skips this one.
 *
 * A handle belongs to the CPU slot its allocator claimed. After detach() its round-count word points
 * at a header word that always holds −1, so its fast paths fall to the slow path, which claims a
 * slot again. A handle to a destroyed cache raises CacheDestroyedError on its slow path: the
 * allocator unbinds it when it forgets the cache, so its fast alloc can never pop the rounds of a
 * cache that reused the slot (same per-CPU words); its fast free already fails, because the owner
 * tag of the slot's pages changed with its generation.
 *
 * Out of memory: null with GFP.NORETRY; otherwise the kernel's shrinkers run (every slab cache
 * gives back empty slabs) and the allocation is retried once before an OutOfMemoryError.
 */
import { OutOfMemoryError } from '../errors.ts';
import { GFP } from '../gfp.ts';
import { PAGE_SHIFT } from '../types.ts';
import { CacheContext } from './context.ts';
import { checkObject, initObject } from './debug.ts';
import { cpuFlush, depotPop, depotPurge, depotPush, magazineAlloc } from './depot.ts';
import { CacheDestroyedError, DuplicateObjectError, InteriorPointerError, InvalidFreeError, InvalidPointerError, SlabDoubleFreeError } from './errors.ts';
import type { SlabError } from './errors.ts';
import { SlabFlag } from './layout.ts';
import { releaseEmptySlabs, slabPut, slabTakeInto, slabTakeOne } from './slab-layer.ts';
import {
  C_DEPOT_EMPTY,
  C_DEPOT_FULL,
  C_DRAIN_GEN,
  CacheStat,
  D_OBJS,
  D_SMEM,
  P_DRAIN_GEN,
  P_LOADED,
  P_PREV,
  P_PREV_ROUNDS,
  P_ROUNDS,
  P_STATS,
  PCPU_WORDS,
  PcpuStat,
  SLAB_OWNER_FALLBACK,
} from './types.ts';

/** PAGE_SHIFT as a module-local constant: V8 folds these, not imported bindings, in the fast paths. */
const FAST_PAGE_SHIFT = PAGE_SHIFT;

/** Reloads a slow path may try before it gives up (each one changes the CPU's magazines). */
const SLOW_PATH_STEPS = 6;

export class KmemCache extends CacheContext {
  /** Word index of this worker's per-CPU words for this cache (moves when the handle rebinds). */
  pcpu = this.services.pcpuBase + this.index * PCPU_WORDS;
  /** Word index of the loaded magazine's round count (pcpu + P_ROUNDS; the −1 word when unbound). */
  private roundsWord = this.pcpu + P_ROUNDS;
  private bound = true;
  /**
   * Whether other threads share the arena. Only then can two frees of one object race past each
   * other's check, so only then does alloc check the popped round's marker.
   */
  private readonly shared = typeof SharedArrayBuffer !== 'undefined' && this.w.buffer instanceof SharedArrayBuffer;
  /** The same RAM as `w`, unsigned: addresses read back as they were written, even above 2 GiB. */
  private readonly u32 = new Uint32Array(this.w.buffer);
  /** init_on_alloc (objects of caches with a constructor keep their constructed state instead). */
  private readonly zeroOnAlloc = (this.flags & (SlabFlag.INIT_ON_ALLOC | SlabFlag.HAS_CTOR)) === SlabFlag.INIT_ON_ALLOC;
  private readonly zeroOnFree = (this.flags & (SlabFlag.INIT_ON_FREE | SlabFlag.HAS_CTOR)) === SlabFlag.INIT_ON_FREE;
  /** Work for alloc beyond popping a round: zeroing (init_on_alloc), wiping the free word (init_on_free). */
  private readonly allocInit = this.zeroOnAlloc || this.zeroOnFree;
  /** Whether a fast alloc has more to do than clear the marker (allocFinish). */
  private readonly allocExtra = this.shared || this.allocInit;
  /** The owner tag the fast free path accepts: none (-1) for slow-only and init_on_free caches. */
  private readonly fastTag = this.slowOnly || this.zeroOnFree ? -1 : this.tag;
  /** Word index of round 0 of the loaded magazine (host-side copy of P_LOADED, which only this CPU writes). */
  private loadedBase = (((this.w[this.pcpu + P_LOADED] as number) >>> 0) >>> 2) + 1;

  /**
   * Allocates one object and returns its address; null only with GFP.NORETRY when memory is
   * exhausted. `gfp` defaults to GFP.KERNEL (0); it matters only on the slow path.
   */
  alloc(gfp?: number): number | null {
    const addr = this.allocFast();
    return addr !== 0 ? addr : this.allocSlow(gfp ?? GFP.KERNEL);
  }

  /** The fast path: pops the loaded magazine's top round; 0 when it is empty (or the handle unbound). */
  allocFast(): number {
    const w = this.w;
    const r = (w[this.roundsWord] as number) - 1;
    if (r < 0) return 0;
    w[this.roundsWord] = r;
    const addr = this.u32[this.loadedBase + r] as number;
    if (this.allocExtra) return this.allocFinish(addr);
    w[(addr >>> 2) + this.markerWord] = 0;
    return addr;
  }

  /** The rest of the fast alloc where there is more to do: the shared-arena check, init options. */
  private allocFinish(addr: number): number {
    const m = (addr >>> 2) + this.markerWord;
    if (this.shared && this.w[m] !== (this.cookie ^ addr)) throw new DuplicateObjectError(addr, this.name);
    this.w[m] = 0;
    if (this.allocInit) this.initOnAlloc(addr);
    return addr;
  }

  /** Frees an object this cache handed out (by any worker). */
  free(addr: number): void {
    if (!this.freeFast(addr, this.owner[addr >>> FAST_PAGE_SHIFT])) this.freeChecked(addr);
  }

  /**
   * The fast path: marks `addr` free and pushes it on the loaded magazine. `owner` is the
   * mem_map owner tag of its page (kfree has read it already). False, with nothing changed, unless
   * `addr` starts an object of one of this cache's full-order slabs, is not already marked free,
   * and the magazine has room: the checked path then frees it or explains.
   */
  freeFast(addr: number, owner: number | undefined): boolean {
    const off = addr - (this.firstObject[addr >>> FAST_PAGE_SHIFT] as number);
    // One test for "a whole multiple of 8 in range": fractions, negatives and wrapped values fail it.
    const slot = off >>> 3;
    if (owner !== this.fastTag || slot << 3 !== off || this.objectStart[slot] !== 1) return false;
    const w = this.w;
    const r = w[this.roundsWord] as number;
    const m = (addr >>> 2) + this.markerWord;
    const mark = this.cookie ^ addr;
    if (r >>> 0 >= this.rounds || w[m] === mark) return false;
    w[m] = mark;
    w[this.loadedBase + r] = addr;
    w[this.roundsWord] = r + 1;
    return true;
  }

  /** Pushes a freed (marked) object on the loaded magazine, or takes the slow path when it is full. */
  private push(addr: number): void {
    const w = this.w;
    const r = w[this.roundsWord] as number;
    if (r >>> 0 >= this.rounds) return this.freeSlow(addr);
    w[this.loadedBase + r] = addr;
    w[this.roundsWord] = r + 1;
  }

  /** Returns this CPU's magazines to the depot (call before a worker exits). */
  drain(): void {
    if (this.slowOnly || !this.bound) return;
    cpuFlush(this);
    this.syncLoaded();
  }

  /**
   * Detaches the handle from its CPU slot (SlabAllocator.detach, or a handle whose cache is gone:
   * destroyed, or its slot reused): its fast paths miss, and its slow path rebinds it if the
   * cache is still current, else raises CacheDestroyedError.
   */
  unbind(): void {
    this.roundsWord = this.services.neverWord;
    this.bound = false;
    this.loadedBase = 0;
  }

  /**
   * kmem_cache_shrink(): this CPU's magazines and the depot's go back to the slabs, every empty
   * slab goes back to the page allocator, and every other CPU is asked to return its magazines at
   * its next slow path. Returns the pages freed.
   */
  shrink(): number {
    this.ensureUsable();
    if (!this.slowOnly) {
      this.drain();
      depotPurge(this);
      Atomics.add(this.w, this.base + C_DRAIN_GEN, 1);
      this.w[this.pcpu + P_DRAIN_GEN] = Atomics.load(this.w, this.base + C_DRAIN_GEN);
    }
    this.slabLock.acquire();
    try {
      return releaseEmptySlabs(this);
    } finally {
      this.slabLock.release();
    }
  }

  // ---- slow paths ----

  private syncLoaded(): void {
    this.loadedBase = (((this.w[this.pcpu + P_LOADED] as number) >>> 0) >>> 2) + 1;
  }

  /** The slow paths' entry: the cache must still exist, and the handle must own a CPU slot. */
  private ensureUsable(): void {
    if (!this.current) throw new CacheDestroyedError(this.name);
    if (!this.bound) {
      this.pcpu = this.services.pcpuBase + this.index * PCPU_WORDS;
      this.roundsWord = this.pcpu + P_ROUNDS;
      this.bound = true;
      this.syncLoaded();
    }
  }

  /** Another CPU asked for memory back (shrink): every round goes to the slabs. */
  private checkDrainRequest(): void {
    const gen = Atomics.load(this.w, this.base + C_DRAIN_GEN);
    if (this.w[this.pcpu + P_DRAIN_GEN] !== gen) {
      cpuFlush(this, true);
      this.w[this.pcpu + P_DRAIN_GEN] = gen;
    }
    this.syncLoaded();
  }

  /** init_on_alloc zeroes the object; init_on_free wipes the free word it still holds (SLUB's maybe_wipe_obj_freeptr). */
  private initOnAlloc(addr: number): void {
    if (this.zeroOnAlloc) this.bytes.fill(0, addr, addr + this.objectSize);
    else this.w[(addr >>> 2) + this.linkWord] = 0;
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
    let retried = false;
    for (let step = 0; step < SLOW_PATH_STEPS; step++) {
      if ((w[p + P_ROUNDS] as number) > 0) return this.alloc(gfp);
      if (w[p + P_PREV_ROUNDS] === this.rounds) {
        this.swapMagazines();
        continue;
      }
      this.depotLock.acquire();
      let full = 0;
      try {
        full = depotPop(this, C_DEPOT_FULL);
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
      this.slabLock.acquire();
      let n: number;
      try {
        n = slabTakeInto(this, this.loadedBase, this.rounds, p + P_ROUNDS);
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
    let addr = 0;
    for (let attempt = 0; attempt < 2 && addr === 0; attempt++) {
      this.slabLock.acquire();
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
    const m = (addr >>> 2) + this.markerWord;
    if (this.w[m] !== (this.cookie ^ addr)) throw new DuplicateObjectError(addr, this.name);
    this.w[m] = 0;
    if (this.debug) initObject(this, addr, true);
    if (this.allocInit) this.initOnAlloc(addr);
    return addr;
  }

  /** Free for slow-only caches: debug checks, init_on_free, then the slab layer. Marker not yet set. */
  private freeDirect(addr: number): void {
    this.slabLock.acquire();
    try {
      if (this.debug) checkObject(this, addr, true);
      if (this.zeroOnFree) this.bytes.fill(0, addr, addr + this.objectSize);
      if (this.debug) initObject(this, addr, false);
      this.w[(addr >>> 2) + this.markerWord] = this.cookie ^ addr;
      slabPut(this, addr);
    } finally {
      this.slabLock.release();
    }
  }

  /** The loaded magazine is full or missing; the object is already marked free. */
  private freeSlow(addr: number): void {
    this.ensureUsable();
    this.checkDrainRequest();
    const w = this.w;
    const p = this.pcpu;
    for (let step = 0; step < SLOW_PATH_STEPS; step++) {
      const r = w[p + P_ROUNDS] as number;
      if (r >= 0 && r < this.rounds) {
        w[this.loadedBase + r] = addr;
        w[p + P_ROUNDS] = r + 1;
        return;
      }
      if (w[p + P_PREV_ROUNDS] === 0) {
        this.swapMagazines();
        continue;
      }
      this.depotLock.acquire();
      let empty = 0;
      try {
        empty = depotPop(this, C_DEPOT_EMPTY);
        if (empty !== 0) {
          this.installEmpty(empty);
          this.count(CacheStat.depotEmptyHits);
        }
      } finally {
        this.depotLock.release();
      }
      if (empty !== 0) continue;
      const mag = magazineAlloc(this);
      if (mag === 0) break;
      this.depotLock.acquire();
      try {
        this.installEmpty(mag);
      } finally {
        this.depotLock.release();
      }
    }
    this.slabLock.acquire();
    try {
      slabPut(this, addr);
    } finally {
      this.slabLock.release();
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

  private outOfMemory(gfp: number): null {
    if ((gfp & GFP.NORETRY) !== 0) return null;
    throw new OutOfMemoryError(this.order, gfp, 'exhausted', `cache ${this.name} cannot grow: no free block of order ${this.order}`);
  }

  /**
   * Why `addr` is not the start of an object of this cache, or null if it is one (in a slab of any
   * order). `op` names the operation for the message.
   */
  objectStartError(addr: number, op: 'free' | 'use' = 'use'): SlabError | null {
    const Err = op === 'free' ? InvalidFreeError : InvalidPointerError;
    const pfn = addr >>> PAGE_SHIFT;
    if ((((this.owner[pfn] as number) & ~SLAB_OWNER_FALLBACK) | 0) !== this.tag || addr !== addr >>> 0) {
      return new Err(addr, this.name, this.services.describeAddress(addr));
    }
    const desc = (this.priv[pfn] as number) >>> 2;
    const off = addr - ((this.w[desc + D_SMEM] as number) >>> 0);
    const idx = Math.floor(off / this.size);
    if (off < 0 || idx >= (this.w[desc + D_OBJS] as number)) {
      return new Err(addr, this.name, `it lies in the slab's ${off < 0 ? 'colour or red zone' : 'unused tail'}, outside every object`);
    }
    if (off !== idx * this.size) return new InteriorPointerError(addr, this.name, addr - off + idx * this.size);
    return null;
  }

  /**
   * The fast path's checks did not pass: a slow-only cache, a fallback-order slab's object, or a bad
   * address. Checks everything, then frees or throws.
   */
  private freeChecked(addr: number): void {
    const error = this.objectStartError(addr, 'free');
    if (error !== null) throw error;
    const m = (addr >>> 2) + this.markerWord;
    if (this.w[m] === (this.cookie ^ addr)) throw new SlabDoubleFreeError(addr, this.name);
    if (!this.current) throw new CacheDestroyedError(this.name);
    if (this.slowOnly) return this.freeDirect(addr);
    if (this.zeroOnFree) this.bytes.fill(0, addr, addr + this.objectSize);
    this.w[m] = this.cookie ^ addr;
    this.push(addr);
  }
}
