/**
 * CacheContext: one worker's handle on one cache's arena state — the views, the layout figures
 * copied out of the descriptor, the locks — and the small helpers every layer of the slab allocator
 * shares (descriptor fields, slab lists, counters). It holds no state of its own that another worker
 * could need: everything lives in the arena (types.ts).
 */
import type { LockStatsRecord } from '../../sync/lock-stats.ts';
import { listAdd, listCheck, listDel } from '../../util/arena-list.ts';
import type { ListLinks } from '../../util/arena-list.ts';
import { LockWord } from '../../sync/lock-word.ts';
import type { LockOwner } from '../../sync/lock-word.ts';
import type { MemMap } from '../mem-map.ts';
import type { PageAllocator } from '../page-alloc.ts';
import { PAGE_SHIFT } from '../types.ts';
import type { CpuSlab } from './cpu-slab.ts';
import { CacheDestroyedError, InteriorPointerError, InvalidFreeError, InvalidPointerError } from './errors.ts';
import { InvariantError } from '../../util/errors.ts';
import type { SlabError } from './errors.ts';
import { FREE_MARK } from './alloc-state.ts';
import type { AllocState } from './alloc-state.ts';
import { SLAB_DEBUG_FLAGS, SlabFlag, isSlowOnly } from './layout.ts';
import {
  CACHE_WORDS,
  C_ALIGN,
  C_FLAGS,
  C_FREE_OFFSET,
  C_INUSE,
  C_NAME,
  C_OBJECT_SIZE,
  C_OBJS,
  C_ONSLAB_HEADER,
  C_ORDER,
  C_RED_LEFT_PAD,
  C_ROUNDS,
  C_SIZE,
  C_STATS,
  CacheStat,
  D_INUSE,
  D_NEXT,
  D_OBJS,
  D_FREELIST,
  D_PREV,
  NAME_BYTES,
  C_GEN,
  C_MAGAZINE_CACHE,
  C_STATE,
  CacheState,
  D_PFN_ORDER,
  D_SMEM,
  SLAB_OWNER_FALLBACK,
  slabOwnerTag,
  C_DEPOT_LOCK,
  C_SLAB_LOCK,
  C_PARTIAL,
  C_FULL,
  C_EMPTY,
  C_NR_PARTIAL,
  C_NR_FULL,
  C_NR_EMPTY,
  packedOrder, packedPfn,
} from './types.ts';
import type { CacheStatName, SlabLockName } from './types.ts';

/** What the slab layers need from the allocator that owns them. */
export interface SlabServices {
  readonly pages: PageAllocator;
  readonly memMap: MemMap;
  /** The cache slab descriptors come from (kmem_slab). */
  descriptorCache(): CacheContext;
  /** The cache in table slot `index` (the magazine cache a descriptor names). */
  internalCache(index: number): CacheContext;
  /** The constructor registered for a cache in this worker. */
  ctorOf(index: number): ((addr: number) => void) | undefined;
  /** The allocation-state bitmap (alloc-state.ts). */
  readonly allocState: AllocState;
  /** Whether the allocation state is lazy (alloc-state.ts: arenas booted over a plain ArrayBuffer). */
  readonly lazyState: boolean;
  /** Word index of this thread's hands for cache slot `index` (types.ts HAND_*). */
  handsOf(index: number): number;
  /** The owner tag of the pages of a slab this thread is making (types.ts slabGrowOwner). */
  growOwner(): number;
  /** Rebuilds a cache's slab lists after its slab lock was taken over from a dead holder (repair.ts). */
  repairSlabLists(cache: CacheContext): void;
  /** Recounts a cache's depot after its depot lock was taken over from a dead holder (repair.ts). */
  repairDepot(cache: CacheContext): void;
  /** Whether `addr` is a round in any magazine of `cache` (any CPU's, or the depot's). */
  inMagazines(cache: CacheContext, addr: number): boolean;
  /** Word index of this worker's per-CPU words for cache 0 (claims a CPU slot on first use). */
  readonly pcpuBase: number;
  /** This worker's fast-path rows (cpu-slab.ts). */
  readonly cpuSlab: CpuSlab;
  /** Word index of a word that always holds −1 (a detached handle's round count). */
  readonly neverWord: number;
  /** Who takes the slab locks (the kernel's CPU slots). */
  readonly lockOwner: LockOwner;
  /** The arena record (region 'slab.lockstat') where slot `index`'s depot or slab lock counts its acquisitions. */
  lockStatsOf(lock: Exclude<SlabLockName, 'table'>, index: number): LockStatsRecord;
  /**
   * Where a SLAB_TYPESAFE_BY_RCU cache's empty slab pages go instead of freePages (an RCU of the
   * sync domain, after a grace period); null in a worker without one, whose empty slabs then stay.
   */
  readonly deferSlabPages: ((pfn: number, order: number) => void) | null;
  /** A CPU found its cache destroyed mid-slow-path: its empty magazines go back (allocator.ts). */
  abandonMagazines(cache: CacheContext & { readonly pcpu: number }): void;
  /** What `addr` is, for an error message about a free that is not this cache's. */
  describeAddress(addr: number): string;
}

export class CacheContext {
  readonly name: string;
  readonly tag: number;
  /** Word index of the descriptor in `w`. @internal */
  readonly base: number;
  readonly flags: number;
  readonly objectSize: number;
  readonly size: number;
  readonly align: number;
  /** @internal */
  readonly inuse: number;
  /** @internal */
  readonly freeOffset: number;
  /** @internal */
  readonly redLeftPad: number;
  readonly order: number;
  readonly objs: number;
  /** @internal */
  readonly onSlabHeaderBytes: number;
  readonly rounds: number;
  /** Word offset of the slab free-list link from an object's first word (SLUB's free pointer). @internal */
  readonly linkWord: number;
  /** The allocation-state bitmap (alloc-state.ts); isFree() is the exact answer. @internal */
  readonly state: AllocState;
  /**
   * Lazy allocation state for this cache (alloc-state.ts): its magazine rounds keep their state
   * bit set and carry a mark at word `markWord` of the object. @internal
   */
  readonly lazy: boolean;
  /**
   * Word offset of the lazy-mode mark from an object's first word: the first word (the second
   * where the free pointer is the first), or, where the free pointer lives outside the object
   * (constructor, poisoning) or the object must keep its bytes while free (SLAB_TYPESAFE_BY_RCU),
   * the free-pointer word itself (markIsLink). @internal
   */
  readonly markWord: number;
  /**
   * The mark shares the free-pointer word, so objects on a slab free list carry their link there,
   * not the mark: a fast free must read the state bit too (cpu-slab.ts). @internal
   */
  readonly markIsLink: boolean;
  /** Alloc and free always take the slow path (debug checks, or no magazine layer). @internal */
  readonly slowOnly: boolean;
  /** init_on_free: a free zeroes the object (not with a constructor, whose objects keep their state). @internal */
  readonly zeroOnFree: boolean;
  /** @internal */
  readonly debug: boolean;
  /** @internal */
  readonly slabLock: LockWord;
  /** @internal */
  readonly depotLock: LockWord;
  /** @internal */
  readonly owner: Uint32Array;
  /** @internal */
  readonly priv: Int32Array;
  /** mem_map.firstObject read unsigned, so that slabs above 2 GiB compare exactly. @internal */
  readonly firstObject: Uint32Array;
  /** The slot of this cache's magazine cache, or -1. @internal */
  readonly magazineIndex: number;
  /** The generation of the slot when this handle was made (see SLAB_OWNER_BASE). @internal */
  readonly gen: number;
  /**
   * Whether the arena is a SharedArrayBuffer: the descriptor words other threads change outside
   * this cache's locks (its state, the drain generation) are then read and changed with Atomics;
   * over a plain ArrayBuffer, which one thread alone can use, with plain loads and stores, as the
   * locks do (lock-word.ts). @internal
   */
  readonly shared: boolean;

  constructor(
    readonly index: number,
    /** @internal */
    readonly w: Int32Array,
    /** @internal */
    readonly f64: Float64Array,
    /** @internal */
    readonly bytes: Uint8Array,
    /** @internal */
    readonly services: SlabServices,
    cacheTableWord: number,
  ) {
    this.base = cacheTableWord + index * CACHE_WORDS;
    const at = (word: number): number => w[this.base + word] as number;
    this.name = readName(bytes, (this.base + C_NAME) * 4);
    this.gen = at(C_GEN);
    this.shared = services.pages.ram.shared;
    this.tag = slabOwnerTag(index, this.gen);
    this.flags = at(C_FLAGS);
    this.objectSize = at(C_OBJECT_SIZE);
    this.size = at(C_SIZE);
    this.align = at(C_ALIGN);
    this.inuse = at(C_INUSE);
    this.freeOffset = at(C_FREE_OFFSET);
    this.redLeftPad = at(C_RED_LEFT_PAD);
    this.order = at(C_ORDER);
    this.objs = at(C_OBJS);
    this.onSlabHeaderBytes = at(C_ONSLAB_HEADER);
    this.rounds = at(C_ROUNDS);
    this.linkWord = this.freeOffset / 4;
    this.state = services.allocState;
    this.debug = (this.flags & SLAB_DEBUG_FLAGS) !== 0;
    this.slowOnly = isSlowOnly(this.flags);
    this.zeroOnFree = (this.flags & (SlabFlag.INIT_ON_FREE | SlabFlag.HAS_CTOR)) === SlabFlag.INIT_ON_FREE;
    this.lazy = services.lazyState && !this.slowOnly && this.rounds > 0;
    this.markIsLink = (this.flags & (SlabFlag.HAS_CTOR | SlabFlag.POISON | SlabFlag.TYPESAFE_BY_RCU)) !== 0;
    this.markWord = this.markIsLink ? this.linkWord : this.linkWord === 0 ? 1 : 0;
    // A lock a worker died holding is taken over, and what it guards rebuilt first (repair.ts).
    this.slabLock = new LockWord(w, this.base + C_SLAB_LOCK, services.lockOwner, services.lockStatsOf('slab', index), () => services.repairSlabLists(this));
    this.depotLock = new LockWord(w, this.base + C_DEPOT_LOCK, services.lockOwner, services.lockStatsOf('depot', index), () => services.repairDepot(this));
    this.owner = services.memMap.owner;
    this.priv = services.memMap.private;
    const fo = services.memMap.firstObject;
    this.firstObject = new Uint32Array(fo.buffer, fo.byteOffset, fo.length);
    this.magazineIndex = at(C_MAGAZINE_CACHE) - 1;
  }

  /**
   * Whether the object at `addr` (an object start of this cache) is free: on a slab free list or
   * in a magazine. Exact in both modes of alloc-state.ts. @internal
   */
  isFree(addr: number): boolean {
    if (!this.state.isAllocated(addr)) return true;
    if (!this.lazy || this.w[(addr >>> 2) + this.markWord] !== (addr ^ FREE_MARK)) return false;
    return this.services.inMagazines(this, addr);
  }

  /**
   * Word index of this thread's hands for the cache (types.ts HAND_*): what a slow path holds
   * between two places, for offlineCpu to put back if the thread is killed there. @internal
   */
  get hands(): number {
    return this.services.handsOf(this.index);
  }

  /** The constructor this worker registered for the cache (looked up each time: it may come later). */
  get ctor(): ((addr: number) => void) | undefined {
    return this.services.ctorOf(this.index);
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

  /** Whether the slot still holds the cache this handle was made for. */
  get current(): boolean {
    return this.loadWord(C_STATE) === CacheState.Live && this.word(C_GEN) === this.gen;
  }

  /** Descriptor word `offset`, which another thread may change: an Atomics load on a shared arena only (`shared`). @internal */
  loadWord(offset: number): number {
    return this.shared ? Atomics.load(this.w, this.base + offset) : (this.w[this.base + offset] as number);
  }

  /** Adds `n` to descriptor word `offset`: an Atomics add on a shared arena only (`shared`). @internal */
  addWord(offset: number, n: number): void {
    const i = this.base + offset;
    if (this.shared) Atomics.add(this.w, i, n);
    else this.w[i] = ((this.w[i] as number) + n) | 0;
  }

  /**
   * Takes `lock` (this cache's slab or depot lock) and checks, under it, that the cache still
   * lives: destroyCache marks it dying under both locks, so a slow path that passed its entry
   * check before the destroy finds out here and changes nothing. Throws CacheDestroyedError with
   * the lock released.
   * @internal
   */
  lockLive(lock: LockWord): void {
    lock.acquire();
    if (this.current) return;
    lock.release();
    throw new CacheDestroyedError(this.name);
  }

  /** @internal */
  word(offset: number): number {
    return this.w[this.base + offset] as number;
  }

  /** @internal */
  count(stat: number, by = 1): void {
    const i = (this.base + C_STATS) / 2 + stat;
    this.f64[i] = (this.f64[i] as number) + by;
  }

  stat(name: CacheStatName): number {
    return this.f64[(this.base + C_STATS) / 2 + CacheStat[name]] as number;
  }

  /** Word index of a descriptor field. @internal */
  d(desc: number, field: number): number {
    return (desc >>> 2) + field;
  }

  /** The descriptor of the slab holding `addr` (which must be a slab page of this cache). @internal */
  descOf(addr: number): number {
    return (this.priv[addr >>> PAGE_SHIFT] as number) >>> 0;
  }

  /** The slab list (C_PARTIAL, C_FULL or C_EMPTY) a slab belongs on, from its in-use count. @internal */
  listFor(desc: number): number {
    const inuse = this.w[this.d(desc, D_INUSE)] as number;
    if (inuse === 0) return C_EMPTY;
    return inuse === (this.w[this.d(desc, D_OBJS)] as number) ? C_FULL : C_PARTIAL;
  }

  /** Puts a slab on one of the cache's slab lists (arena-list.ts; slab lock held). @internal */
  listAdd(desc: number, list: number): void {
    listAdd(this.w, this.base + list, this.base + listCountWord(list), desc, SLAB_LIST_LINKS);
    if (this.debug) this.listCheck(list);
  }

  /** Takes a slab off one of the cache's slab lists (slab lock held). @internal */
  listDel(desc: number, list: number): void {
    listDel(this.w, this.base + list, this.base + listCountWord(list), desc, SLAB_LIST_LINKS);
    if (this.debug) this.listCheck(list);
  }

  /** Expensive tier (debug caches, after every list change): the whole list is well linked and counted. @internal */
  listCheck(list: number): void {
    listCheck(this.w, this.base + list, this.base + listCountWord(list), SLAB_LIST_LINKS, this.services.memMap.nrPages);
  }

  /**
   * The objects on a slab's free list, in list order; a list longer than the slab's objects (a
   * cycle) is an InvariantError. @internal
   */
  *freeObjects(desc: number): Generator<number, void, undefined> {
    const w = this.w;
    const objs = w[this.d(desc, D_OBJS)] as number;
    let n = 0;
    for (let obj = (w[this.d(desc, D_FREELIST)] as number) >>> 0; obj !== 0; obj = (w[(obj >>> 2) + this.linkWord] as number) >>> 0) {
      if (++n > objs) throw new InvariantError(`${this.name}: the free list of slab 0x${desc.toString(16)} is longer than its ${objs} objects (a cycle?)`);
      yield obj;
    }
  }

  /** The head pfn and order of the slab a descriptor describes. @internal */
  slabPages(desc: number): { pfn: number; order: number } {
    const pfnOrder = this.w[this.d(desc, D_PFN_ORDER)] as number;
    return { pfn: packedPfn(pfnOrder), order: packedOrder(pfnOrder) };
  }
}

/** The links of a slab descriptor on its cache's partial, full or empty list. */
export const SLAB_LIST_LINKS: ListLinks = { next: D_NEXT, prev: D_PREV, name: 'slab list' };

export function listCountWord(list: number): number {
  return list === C_PARTIAL ? C_NR_PARTIAL : list === C_FULL ? C_NR_FULL : C_NR_EMPTY;
}

export function readName(bytes: Uint8Array, offset: number): string {
  let name = '';
  for (let i = 0; i < NAME_BYTES; i++) {
    const byte = bytes[offset + i] as number;
    if (byte === 0) break;
    name += String.fromCharCode(byte);
  }
  return name;
}

export function writeName(bytes: Uint8Array, offset: number, name: string): void {
  bytes.fill(0, offset, offset + NAME_BYTES);
  for (let i = 0; i < name.length; i++) bytes[offset + i] = name.charCodeAt(i);
}
