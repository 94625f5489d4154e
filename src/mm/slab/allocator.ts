/**
 * SlabAllocator: one worker's view of the kernel's slab allocator — the cache table in the arena,
 * this worker's CPU slot, and a KmemCache wrapper per cache it uses.
 *
 *   const cache = kernel.slab.createCache('task_struct', 1664, { align: 64 });
 *   const addr = cache.alloc();               // another worker: kernel.slab.cache('task_struct')
 *   cache.free(addr!);
 *
 * Boot creates kmem_slab (off-slab slab descriptors; its own slabs keep theirs on-slab, so it never
 * needs itself) and the kmalloc caches (kmalloc.ts). A cache with a magazine layer gets its
 * magazines from kmem_magazine_<M>, created with it. Each worker claims a CPU slot the first time
 * it touches the slab allocator (Kernel.attach itself writes nothing); detach() returns the
 * worker's magazines and its slot.
 *
 * Locking: the table lock serialises creating and destroying caches; see cache.ts, depot.ts and
 * slab-layer.ts for the per-cache locks and their order. Every slab lock counts its acquisitions and
 * contention in the arena (region 'slab.lockstat', types.ts), listed by lockStats().
 */
import type { Ram } from '../../machine/ram.ts';
import { LockStatsRecord, type LockStatValues } from '../../sync/lock-stats.ts';
import { LockWord } from '../../sync/lock-word.ts';
import type { LockOwner } from '../../sync/lock-word.ts';
import { LOCK_STAT_COUNT } from '../../sync/types.ts';
import { listWalk } from '../../util/arena-list.ts';
import { ArgumentError, InvariantError } from '../../util/errors.ts';
import type { ArenaHeader } from '../arena-header.ts';
import type { CpuSlots } from '../cpu-slots.ts';
import type { MemMap } from '../mem-map.ts';
import type { Memblock } from '../memblock.ts';
import type { PageAllocator } from '../page-alloc.ts';
import { PAGE_SHIFT, PageFlag } from '../types.ts';
import { KmemCache } from './cache.ts';
import type { SlabServices } from './context.ts';
import { CacheContext, SLAB_LIST_LINKS, readName, writeName } from './context.ts';
import { AllocState, stateBytes } from './alloc-state.ts';
import { cpuFlushAt, depotPurge, someRound } from './depot.ts';
import { reclaimCpu, repairDepot, repairSlabLists } from './repair.ts';
import { CacheBusyError, CacheDestroyedError, CacheNameError, SlabLimitError } from './errors.ts';
import { ROW_WORDS, createCpuSlab } from './cpu-slab.ts';
import type { CpuSlab } from './cpu-slab.ts';
import { KMALLOC_CLASSES, Kmalloc } from './kmalloc.ts';
import { DEFAULT_MAGAZINE_ROUNDS, SLAB_DEBUG_FLAGS, SLAB_FLAGS_MASK, SlabFlag, calculateLayout, defaultMagazineRounds, isSlowOnly } from './layout.ts';
import type { CacheLayout, SlabLayoutKind } from './layout.ts';
import { internalPut, releaseEmptySlabs } from './slab-layer.ts';
import { slabStats, slabinfoText, slabtopText } from './slabinfo.ts';
import type { SlabStats } from './slabinfo.ts';
import {
  CACHE_WORDS,
  C_ALIGN,
  C_COLOUR_MAX,
  C_COLOUR_STEP,
  C_FLAGS,
  C_FREE_OFFSET,
  C_INUSE,
  C_MAGAZINE_CACHE,
  C_NAME,
  C_OBJECT_SIZE,
  C_OBJS,
  C_ONSLAB_HEADER,
  C_ORDER,
  C_RED_LEFT_PAD,
  C_ROUNDS,
  C_SIZE,
  C_STATE,
  CacheState,
  D_INUSE,
  D_OBJS,
  D_SMEM,
  HAND_SLAB,
  C_FULL,
  C_PARTIAL,
  HEADER_WORDS,
  H_CPUS,
  H_POSSIBLE_CPUS,
  H_STATE_MODE,
  STATE_LAZY,
  H_LAYOUT,
  H_MAX_CACHES,
  H_NEVER,
  H_NO_CPU_HANDS,
  MAX_CACHES,
  C_GEN,
  C_DEPOT_LOCK,
  C_NR_DEPOT_EMPTY,
  C_NR_DEPOT_FULL,
  C_SLAB_LOCK,
  SLAB_GEN_MASK,
  H_NR_CACHES,
  H_TABLE_LOCK,
  KMALLOC_LARGE_OWNER,
  NAME_BYTES,
  PCPU_WORDS,
  P_HANDS,
  P_LOADED,
  slabGrowOwner,
  P_PREV,
  P_PREV_ROUNDS,
  P_ROUNDS,
  SLAB_INDEX_MASK,
  isSlabOwner,
  slabLockStatRecord,
  slabLockStatRecords,
} from './types.ts';
import type { SlabLockName } from './types.ts';
import { validateSlab } from './validate.ts';

export interface SlabBootOptions {
  /** Slots in the cache table. Default 128. */
  maxCaches?: number;
  /** How slabs are laid out: 'slub' (Linux, the default) or 'bonwick' (on-slab headers, colouring). */
  layout?: SlabLayoutKind;
  /** Debug flags for every user and kmalloc cache (SlabFlag.RED_ZONE | SlabFlag.POISON): slab_debug=ZP. */
  debugFlags?: number;
  /** Zero objects on allocation (init_on_alloc=1) or on free (init_on_free=1). */
  initOnAlloc?: boolean;
  initOnFree?: boolean;
}

export interface CreateCacheOptions {
  align?: number;
  /** Constructs an object at `addr` once, when its slab is created (Bonwick's constructed state). */
  ctor?: (addr: number) => void;
  /** SlabFlag bits. */
  flags?: number;
  layout?: SlabLayoutKind;
  /** Rounds per magazine; default by slot size (defaultMagazineRounds() in layout.ts). */
  magazineRounds?: number;
}

const LAYOUTS: readonly SlabLayoutKind[] = ['slub', 'bonwick'];
const DEFAULT_MAX_CACHES = 128;
/** Boot debug and init flags are kept in the header word H_LAYOUT above the layout bit. */
const LAYOUT_BONWICK = 1;

export class SlabAllocator {
  /** @internal Set by an RCU of the sync domain (Rcu.serveTypesafeSlabs) for SLAB_TYPESAFE_BY_RCU caches. */
  deferSlabPages: ((pfn: number, order: number) => void) | null = null;
  /** @internal */
  readonly allocState: AllocState;
  /** Lazy allocation state (alloc-state.ts): the arena was booted over a plain ArrayBuffer. */
  readonly lazyState: boolean;
  readonly maxCaches: number;
  readonly cpus: number;
  /** nr_cpu_ids for calculate_order() (the `possibleCpus` boot option). */
  readonly possibleCpus: number;
  /** @internal */
  readonly kmalloc: Kmalloc;
  /** @internal */
  readonly lockOwner: LockOwner;
  /** @internal */
  readonly cpuSlab: CpuSlab;
  private readonly w: Int32Array;
  private readonly f64: Float64Array;
  private readonly bytes: Uint8Array;
  private readonly headerWord: number;
  private readonly tableWord: number;
  private readonly pcpuRegionWord: number;
  private readonly tableLock: LockWord;
  /** The region 'slab.lockstat' (types.ts): one LockStatsRecord per slab lock. */
  private readonly lockStatF64: Float64Array;
  private readonly wrappers = new Map<number, KmemCache>();
  private readonly contexts = new Map<number, CacheContext>();
  private readonly ctors = new Map<number, (addr: number) => void>();
  /** Constructors registered by name before their cache was looked up here (registerCtor). */
  private readonly ctorsByName = new Map<string, (addr: number) => void>();

  private constructor(
    readonly ram: Ram,
    readonly pages: PageAllocator,
    /** @internal struct page: writable views of every page's state. */
    readonly memMap: MemMap,
    private readonly slots: CpuSlots,
    regionPaddr: number,
    statePaddr: number,
    lockStatPaddr: number,
    format: ((words: Int32Array, header: number) => void) | null,
  ) {
    this.w = new Int32Array(ram.buffer);
    this.f64 = new Float64Array(ram.buffer);
    this.bytes = ram.bytes;
    this.headerWord = regionPaddr >>> 2;
    format?.(this.w, this.headerWord);
    this.maxCaches = this.w[this.headerWord + H_MAX_CACHES] as number;
    this.cpus = this.w[this.headerWord + H_CPUS] as number;
    this.possibleCpus = this.w[this.headerWord + H_POSSIBLE_CPUS] as number;
    this.lockOwner = slots;
    this.tableWord = this.headerWord + HEADER_WORDS;
    this.pcpuRegionWord = this.tableWord + this.maxCaches * CACHE_WORDS;
    this.lockStatF64 = ram.f64(lockStatPaddr, slabLockStatRecords(this.maxCaches) * LOCK_STAT_COUNT);
    if (format !== null) this.lockStatF64.fill(0);
    this.tableLock = new LockWord(this.w, this.headerWord + H_TABLE_LOCK, slots, this.lockStatsOf('table', 0));
    const fo = memMap.firstObject;
    const shared = typeof SharedArrayBuffer !== 'undefined' && ram.buffer instanceof SharedArrayBuffer;
    const stateBase = statePaddr >>> 2;
    this.allocState = new AllocState(this.w, stateBase, shared);
    // A copy of a lazy arena attached over shared memory turns eager (attach(): makeStateEager).
    this.lazyState = !shared && this.w[this.headerWord + H_STATE_MODE] === STATE_LAZY;
    this.cpuSlab = createCpuSlab(
      this.w,
      memMap.owner,
      new Uint32Array(fo.buffer, fo.byteOffset, fo.length),
      stateBase,
      shared,
      this.lazyState,
      this.neverWord,
      this.maxCaches,
      KMALLOC_CLASSES,
    );
    this.kmalloc = new Kmalloc(this);
  }

  /** Bytes of the 'slab' region for a machine of `cpus` CPUs and `maxCaches` caches. */
  private static regionBytes(cpus: number, maxCaches: number): number {
    return (HEADER_WORDS + maxCaches * CACHE_WORDS + cpus * maxCaches * PCPU_WORDS) * 4;
  }

  /** Boot, before the page allocator frees memory: carves the 'slab' region. @internal */
  static reserve(memblock: Memblock, ramBytes: number, cpus: number, options: SlabBootOptions): void {
    const maxCaches = options.maxCaches ?? DEFAULT_MAX_CACHES;
    if (!Number.isInteger(maxCaches) || maxCaches < 32 || maxCaches > MAX_CACHES) {
      throw new ArgumentError(`maxCaches ${maxCaches}: expected an integer in [32, ${MAX_CACHES}] (the owner tag holds a 15-bit slot)`);
    }
    memblock.alloc('slab', SlabAllocator.regionBytes(cpus, maxCaches));
    memblock.alloc('slab.lockstat', slabLockStatRecords(maxCaches) * LOCK_STAT_COUNT * 8);
    memblock.alloc('slab-state', stateBytes(ramBytes));
  }

  /** Boot, after the page allocator: formats the region and creates kmem_slab and the kmalloc caches. @internal */
  static init(ram: Ram, header: ArenaHeader, pages: PageAllocator, memMap: MemMap, slots: CpuSlots, options: SlabBootOptions): SlabAllocator {
    const layout = options.layout ?? 'slub';
    if (!LAYOUTS.includes(layout)) throw new ArgumentError(`slab layout '${String(layout)}': expected one of ${LAYOUTS.join(', ')}`);
    const debugFlags = options.debugFlags ?? 0;
    if ((debugFlags & ~SLAB_DEBUG_FLAGS) !== 0) throw new ArgumentError(`debugFlags 0x${debugFlags.toString(16)}: expected SlabFlag.RED_ZONE and/or SlabFlag.POISON`);
    const region = header.requireRegion('slab');
    const state = header.requireRegion('slab-state');
    ram.bytes.fill(0, state.paddr, state.paddr + state.sizeBytes);
    const slab = new SlabAllocator(ram, pages, memMap, slots, region.paddr, state.paddr, header.requireRegion('slab.lockstat').paddr, (w, h) => {
      w.fill(0, h, h + region.sizeBytes / 4);
      w[h + H_NEVER] = -1;
      w[h + H_MAX_CACHES] = options.maxCaches ?? DEFAULT_MAX_CACHES;
      w[h + H_CPUS] = slots.nrSlots;
      w[h + H_POSSIBLE_CPUS] = slots.possibleCpus;
      w[h + H_STATE_MODE] = ram.shared ? 0 : STATE_LAZY;
      w[h + H_LAYOUT] =
        (layout === 'bonwick' ? LAYOUT_BONWICK : 0) |
        (debugFlags << 8) |
        ((options.initOnAlloc === true ? SlabFlag.INIT_ON_ALLOC : 0) << 8) |
        ((options.initOnFree === true ? SlabFlag.INIT_ON_FREE : 0) << 8);
    });
    slab.createInternal('kmem_slab', 32, { flags: SlabFlag.NO_MAGAZINE | SlabFlag.INTERNAL, layout: 'bonwick' }, false);
    for (const rounds of DEFAULT_MAGAZINE_ROUNDS) slab.magazineCacheIndex(rounds, layout);
    slab.kmalloc.createBootCaches();
    return slab;
  }

  /** This worker's CPU slot, claimed (in the arena) the first time a cache is used here. */
  get cpu(): number {
    return this.slots.thisCpu();
  }

  /** @internal */
  get neverWord(): number {
    return this.headerWord + H_NEVER;
  }

  /** @internal */
  get pcpuBase(): number {
    return this.pcpuRegionWord + this.cpu * this.maxCaches * PCPU_WORDS;
  }

  /** A worker's view of a booted slab allocator. Writes nothing until a cache is used. @internal */
  static attach(ram: Ram, header: ArenaHeader, pages: PageAllocator, memMap: MemMap, slots: CpuSlots): SlabAllocator {
    const slab = new SlabAllocator(
      ram,
      pages,
      memMap,
      slots,
      header.requireRegion('slab').paddr,
      header.requireRegion('slab-state').paddr,
      header.requireRegion('slab.lockstat').paddr,
      null,
    );
    if (ram.shared && slab.w[slab.headerWord + H_STATE_MODE] === STATE_LAZY) slab.makeStateEager();
    return slab;
  }

  /**
   * A copy of an arena booted over a plain ArrayBuffer, now over shared memory: every magazine
   * round's state bit is cleared (eager mode, alloc-state.ts), then the header says so. Runs
   * before this worker uses any cache, on a copy no other thread has attached yet.
   */
  private makeStateEager(): void {
    for (const ctx of this.liveContexts()) {
      if (ctx.slowOnly || ctx.rounds === 0) continue;
      someRound(ctx, this.cpus, (cpu) => this.pcpuWord(ctx.index, cpu), (addr) => {
        if (!this.allocState.markFree(addr)) throw new InvariantError(`${ctx.name}: magazine round 0x${addr.toString(16)} of a lazy-state arena has its state bit clear`);
        return false;
      });
    }
    this.w[this.headerWord + H_STATE_MODE] = 0;
  }

  /** Whether `addr` is a round in a magazine of `cache`: any CPU's, or the depot's. @internal */
  inMagazines(cache: CacheContext, addr: number): boolean {
    return someRound(cache, this.cpus, (cpu) => this.pcpuWord(cache.index, cpu), (round) => round === addr);
  }

  /** The boot default layout, debug and init flags. */
  private get bootLayout(): SlabLayoutKind {
    return ((this.w[this.headerWord + H_LAYOUT] as number) & LAYOUT_BONWICK) !== 0 ? 'bonwick' : 'slub';
  }

  private get bootFlags(): number {
    return ((this.w[this.headerWord + H_LAYOUT] as number) >>> 8) & SLAB_FLAGS_MASK;
  }

  /** Creates a cache (kmem_cache_create). Names are 1..24 printable ASCII characters, unique. */
  createCache(name: string, sizeBytes: number, options: CreateCacheOptions = {}): KmemCache {
    if (((options.flags ?? 0) & ~SLAB_FLAGS_MASK) !== 0 || ((options.flags ?? 0) & (SlabFlag.NO_MAGAZINE | SlabFlag.HAS_CTOR | SlabFlag.KMALLOC | SlabFlag.INTERNAL)) !== 0) {
      throw new ArgumentError(`flags 0x${(options.flags ?? 0).toString(16)}: expected a combination of the public SlabFlag bits`);
    }
    return this.createInternal(name, sizeBytes, options, true);
  }

  /** A kmalloc size-class cache, made the first time any worker asks for it (kmalloc.ts names them). @internal */
  kmallocCache(name: string, sizeBytes: number, flags: number): KmemCache {
    return this.createInternal(name, sizeBytes, { flags }, true, true);
  }

  /** Whether the cache in `slot` is one of kmem's own (no kfree of its objects). @internal */
  isInternal(slot: number): boolean {
    return ((this.w[this.cacheWord(slot) + C_FLAGS] as number) & SlabFlag.INTERNAL) !== 0;
  }

  /** The cache named `name`, as created by any worker. A cache with a constructor needs it here too. */
  cache(name: string, options: { ctor?: (addr: number) => void } = {}): KmemCache {
    const index = this.findIndex(name);
    if (index < 0) throw new CacheNameError(`no cache named '${name}': expected one created with createCache`);
    const flags = this.w[this.cacheWord(index) + C_FLAGS] as number;
    if ((flags & SlabFlag.INTERNAL) !== 0) throw new CacheNameError(`cache '${name}' is kmem's own: it cannot be used directly`);
    if (options.ctor !== undefined) this.ctors.set(index, options.ctor);
    const byName = this.ctorsByName.get(name);
    if (byName !== undefined && !this.ctors.has(index)) this.ctors.set(index, byName);
    if ((flags & SlabFlag.HAS_CTOR) !== 0 && !this.ctors.has(index)) {
      throw new ArgumentError(`cache '${name}' has a constructor: pass it as { ctor } in every worker that uses the cache`);
    }
    return this.wrap(index);
  }

  /** Every live cache callers may use (kmem's own left out), newest first. */
  caches(): KmemCache[] {
    return this.liveSlots()
      .filter((index) => !this.isInternal(index))
      .map((index) => this.wrap(index));
  }

  /** Live slots, newest first (the order of /proc/slabinfo). */
  private liveSlots(): number[] {
    const out: number[] = [];
    const n = this.w[this.headerWord + H_NR_CACHES] as number;
    for (let index = n - 1; index >= 0; index--) {
      if (this.w[this.cacheWord(index) + C_STATE] === CacheState.Live) out.push(index);
    }
    return out;
  }

  /**
   * kmem_cache_destroy(): returns the cache's memory and frees its slot. Objects still in use (or in
   * another worker's magazines: drain them there first) make it a CacheBusyError naming them, and
   * the cache stays as it was.
   */
  destroyCache(cache: KmemCache): void {
    if (!cache.current) throw new CacheDestroyedError(cache.name);
    if ((cache.flags & (SlabFlag.INTERNAL | SlabFlag.KMALLOC)) !== 0) {
      throw new CacheNameError(`cache '${cache.name}' belongs to the kernel (${(cache.flags & SlabFlag.INTERNAL) !== 0 ? "kmem's own" : 'kmalloc'}): it cannot be destroyed`);
    }
    this.tableLock.acquire();
    try {
      // First, before this CPU's magazines are drained: a constructor of this very cache that
      // destroys it runs inside this CPU's slow path, whose magazine is being refilled.
      this.checkNotGrowing(cache);
      cache.drain();
      this.checkNoMagazines(cache);
      depotPurge(cache);
      // Under both locks (depot → slab), every check again, then Dying: a slow path of another
      // CPU that passed its entry check before this finds the cache dying once it holds a lock
      // (lockLive) and throws CacheDestroyedError, changing nothing.
      cache.depotLock.acquire();
      try {
        cache.slabLock.acquire();
        try {
          this.checkNoMagazines(cache);
          this.checkNotGrowing(cache);
          if (cache.word(C_NR_DEPOT_FULL) + cache.word(C_NR_DEPOT_EMPTY) !== 0) {
            throw new CacheBusyError(cache.name, 0, [], 'another CPU returned magazines to its depot meanwhile: try again');
          }
          releaseEmptySlabs(cache);
          const leaked = this.leakedObjects(cache);
          if (leaked.count > 0) throw new CacheBusyError(cache.name, leaked.count, leaked.addrs);
          Atomics.store(this.w, cache.base + C_STATE, CacheState.Dying);
        } finally {
          cache.slabLock.release();
        }
      } finally {
        cache.depotLock.release();
      }
      // The descriptor is wiped but for its lock words (a CPU may still hold one for a moment,
      // to find the cache dying) and its generation; then the slot is free.
      this.wipeDescriptor(cache.index);
      Atomics.store(this.w, cache.base + C_STATE, CacheState.Free);
      this.forget(cache.index);
      this.ctors.delete(cache.index);
    } finally {
      this.tableLock.release();
    }
  }

  /** Zeroes a descriptor's words but its state, generation and lock words. Table lock held. */
  private wipeDescriptor(index: number): void {
    const base = this.cacheWord(index);
    for (let word = 0; word < CACHE_WORDS; word++) {
      if (word !== C_STATE && word !== C_GEN && word !== C_SLAB_LOCK && word !== C_DEPOT_LOCK) this.w[base + word] = 0;
    }
  }

  /** @internal */
  abandonMagazines(cache: CacheContext & { readonly pcpu: number }): void {
    this.tableLock.acquire();
    try {
      if (this.w[this.cacheWord(cache.index) + C_GEN] !== cache.gen) return; // reused: words reset
      const p = cache.pcpu;
      for (const [magWord, roundsWord] of [
        [P_LOADED, P_ROUNDS],
        [P_PREV, P_PREV_ROUNDS],
      ] as const) {
        const mag = (this.w[p + magWord] as number) >>> 0;
        const rounds = this.w[p + roundsWord] as number;
        // Out of the CPU's words first: a kill before the put leaks the magazine, never frees it twice.
        this.w[p + magWord] = 0;
        this.w[p + roundsWord] = -1;
        // Only empty magazines can be left: a CPU holding rounds makes destroyCache refuse.
        if (mag !== 0 && rounds === 0 && cache.magazineIndex >= 0) internalPut(this.wrap(cache.magazineIndex), mag);
      }
    } finally {
      this.tableLock.release();
    }
  }

  /** Gives back what every cache of this worker can: magazines, depots, empty slabs. Pages freed. */
  shrink(): number {
    const freed = (): number => this.liveContexts().reduce((sum, ctx) => sum + ctx.stat('pagesFreed'), 0);
    const before = freed();
    for (const index of this.liveSlots()) this.wrap(index).shrink();
    return freed() - before;
  }

  /**
   * Returns this worker's magazines to the depots and releases its CPU slot (Kernel.detach(): the
   * page allocator's per-CPU lists go back too). Handles stay usable: the next allocation or free
   * through one claims a slot again.
   */
  detach(): void {
    if (this.slots.claimed >= 0) this.slots.offline(this.slots.claimed);
  }

  /**
   * The slab half of taking CPU `cpu` offline (slub_cpu_dead): every cache's magazines of that CPU
   * go back to the depot, full ones whole, partial ones' rounds to the slabs. Run by the kernel's
   * CPU slots (CpuSlots.offline) while the slot is marked offlining.
   * @internal
   */
  offlineCpu(cpu: number): void {
    // Not a CPU another thread holds: its fast paths pop and push its magazines with plain stores.
    this.slots.checkFlushable(cpu, 'slab.offlineCpu', 'magazines');
    const own = cpu === this.slots.claimed;
    if (own) {
      for (const cache of this.wrappers.values()) cache.unbind();
    }
    for (const ctx of this.liveContexts()) {
      const p = this.pcpuWord(ctx.index, cpu);
      // Another thread's CPU may have stopped anywhere in a slow path (a worker killed by
      // terminate()): put back what its words and hands hold (repair.ts). A plain arena has one
      // thread, and this thread's own CPU stops between operations: the orderly flush serves.
      if (!own && !this.lazyState) reclaimCpu(ctx, p, cpu);
      else if (ctx.rounds > 0) cpuFlushAt(ctx, p, false);
    }
  }

  /** @internal */
  handsOf(index: number): number {
    const cpu = this.slots.claimed;
    return cpu >= 0 ? this.pcpuWord(index, cpu) + P_HANDS : this.headerWord + H_NO_CPU_HANDS;
  }

  /** @internal */
  growOwner(): number {
    return slabGrowOwner(this.slots.claimed);
  }

  /** @internal */
  repairSlabLists(cache: CacheContext): void {
    repairSlabLists(cache);
  }

  /** @internal */
  repairDepot(cache: CacheContext): void {
    repairDepot(cache);
  }

  /**
   * The constructor of cache `name` in this worker, registered by name: a cache created with a
   * constructor needs it in every worker (and in a process that resumed a copy of the arena).
   */
  registerCtor(name: string, fn: (addr: number) => void): void {
    this.ctorsByName.set(name, fn);
    const index = this.findIndex(name);
    if (index >= 0) this.ctors.set(index, fn);
  }

  validate(): void {
    const live = this.liveContexts();
    validateSlab(this, live);
    (this.tableLock.stats as LockStatsRecord).validate('slab table');
    for (const ctx of live) {
      (ctx.depotLock.stats as LockStatsRecord).validate(`slab ${ctx.name} depot`);
      (ctx.slabLock.stats as LockStatsRecord).validate(`slab ${ctx.name} slab list`);
    }
  }

  /**
   * The slab locks' contention statistics (region 'slab.lockstat'), by lock name: 'slab table'
   * (Linux's slab_mutex), then per live cache, newest first, 'slab <cache> depot' and
   * 'slab <cache> slab list' (the per-node list_lock of Linux's SLUB).
   */
  lockStats(): ({ name: string } & LockStatValues)[] {
    const rows: ({ name: string } & LockStatValues)[] = [{ name: 'slab table', ...(this.tableLock.stats as LockStatsRecord).values() }];
    for (const ctx of this.liveContexts()) {
      rows.push({ name: `slab ${ctx.name} depot`, ...(ctx.depotLock.stats as LockStatsRecord).values() });
      rows.push({ name: `slab ${ctx.name} slab list`, ...(ctx.slabLock.stats as LockStatsRecord).values() });
    }
    return rows;
  }

  stats(): SlabStats {
    return slabStats(this.liveContexts(), this.cpus, (index, cpu) => this.pcpuWord(index, cpu));
  }

  /** /proc/slabinfo, version 2.1. */
  slabinfo(): string {
    return slabinfoText(this.stats());
  }

  /** slabtop --once. */
  slabtop(): string {
    return slabtopText(this.stats());
  }

  // ---- SlabServices ----

  /** @internal */
  lockStatsOf(lock: SlabLockName, index: number): LockStatsRecord {
    return new LockStatsRecord(this.lockStatF64, slabLockStatRecord(lock, index) * LOCK_STAT_COUNT);
  }

  /** @internal */
  descriptorCache(): CacheContext {
    return this.wrap(0);
  }

  /** @internal */
  internalCache(index: number): CacheContext {
    return this.wrap(index);
  }

  /** @internal */
  ctorOf(index: number): ((addr: number) => void) | undefined {
    const ctor = this.ctors.get(index);
    if (ctor !== undefined || this.ctorsByName.size === 0) return ctor;
    const byName = this.ctorsByName.get(readName(this.bytes, (this.cacheWord(index) + C_NAME) * 4));
    if (byName !== undefined) this.ctors.set(index, byName);
    return byName;
  }

  /** @internal */
  describeAddress(addr: number): string {
    if (!Number.isInteger(addr) || addr < 0 || addr >= this.ram.sizeBytes) return `it is not an address in RAM (expected an integer in [0, 0x${this.ram.sizeBytes.toString(16)}))`;
    const pfn = addr >>> PAGE_SHIFT;
    const owner = this.memMap.owner[pfn] as number;
    if (isSlabOwner(owner)) return `it belongs to cache '${readName(this.bytes, (this.cacheWord(owner & SLAB_INDEX_MASK) + C_NAME) * 4)}'`;
    let head = pfn;
    if (((this.memMap.flags[pfn] as number) & PageFlag.Tail) !== 0) head = this.memMap.head[pfn] as number;
    if (this.memMap.owner[head] === KMALLOC_LARGE_OWNER) return `it lies in a large kmalloc block at 0x${(head << PAGE_SHIFT).toString(16)}, to free with kfree`;
    return 'it is not slab memory';
  }

  // ---- internals ----

  /** Word index (in the whole-RAM Int32Array) of CPU `cpu`'s per-CPU words for cache `index`. @internal */
  pcpuWord(index: number, cpu: number): number {
    return this.pcpuRegionWord + (cpu * this.maxCaches + index) * PCPU_WORDS;
  }

  private cacheWord(index: number): number {
    return this.tableWord + index * CACHE_WORDS;
  }

  /** @internal */
  wrap(index: number): KmemCache {
    let cache = this.wrappers.get(index);
    if (cache === undefined || !cache.current) {
      if (index < 0 || this.w[this.cacheWord(index) + C_STATE] !== CacheState.Live) throw new CacheNameError(`cache slot ${index} holds no cache`);
      cache?.retire();
      cache = new KmemCache(index, this.w, this.f64, this.bytes, this, this.tableWord);
      this.wrappers.set(index, cache);
    }
    return cache;
  }

  /** Every live cache as a CacheContext: read-only views that claim no CPU slot. Newest first. */
  private liveContexts(): CacheContext[] {
    const out: CacheContext[] = [];
    const n = this.w[this.headerWord + H_NR_CACHES] as number;
    for (let index = n - 1; index >= 0; index--) {
      if (this.w[this.cacheWord(index) + C_STATE] !== CacheState.Live) continue;
      let ctx = this.contexts.get(index);
      if (ctx === undefined || !ctx.current) {
        ctx = new CacheContext(index, this.w, this.f64, this.bytes, this, this.tableWord);
        this.contexts.set(index, ctx);
      }
      out.push(ctx);
    }
    return out;
  }

  private findIndex(name: string): number {
    const n = this.w[this.headerWord + H_NR_CACHES] as number;
    for (let index = 0; index < n; index++) {
      const base = this.cacheWord(index);
      if (this.w[base + C_STATE] === CacheState.Live && readName(this.bytes, (base + C_NAME) * 4) === name) return index;
    }
    return -1;
  }

  /** Creates a cache; with `orExisting`, returns the live cache of that name instead of refusing. */
  private createInternal(name: string, sizeBytes: number, options: CreateCacheOptions, user: boolean, orExisting = false): KmemCache {
    if (typeof name !== 'string' || name.length === 0 || name.length > NAME_BYTES || !/^[\x21-\x7e]+$/.test(name)) {
      throw new CacheNameError(`cache name '${String(name)}': expected 1..${NAME_BYTES} printable ASCII characters without spaces`);
    }
    const layoutKind = options.layout ?? this.bootLayout;
    if (!LAYOUTS.includes(layoutKind)) throw new ArgumentError(`slab layout '${String(layoutKind)}': expected one of ${LAYOUTS.join(', ')}`);
    let flags = (options.flags ?? 0) | (options.ctor !== undefined ? SlabFlag.HAS_CTOR : 0);
    if (user) flags |= this.bootFlags;
    const layout = calculateLayout(sizeBytes, options.align ?? 0, flags, this.possibleCpus, layoutKind);
    const requested = options.magazineRounds ?? defaultMagazineRounds(layout.size);
    if (!Number.isInteger(requested) || requested < 1 || requested > 1023) {
      throw new ArgumentError(`magazineRounds ${requested}: expected an integer in [1, 1023]`);
    }
    const rounds = isSlowOnly(flags) ? 0 : requested;
    this.tableLock.acquire();
    try {
      const existing = this.findIndex(name);
      if (existing >= 0 && orExisting) return this.wrap(existing);
      if (existing >= 0) throw new CacheNameError(`a cache named '${name}' already exists`);
      const magazineCache = rounds > 0 ? this.magazineCacheIndex(rounds, layoutKind) + 1 : 0;
      const index = this.addCache(name, layout, flags, rounds, magazineCache);
      if (options.ctor !== undefined) this.ctors.set(index, options.ctor);
      return this.wrap(index);
    } finally {
      this.tableLock.release();
    }
  }

  /** The slot of kmem_magazine_<rounds>, created if missing. Table lock held (or boot). */
  private magazineCacheIndex(rounds: number, layoutKind: SlabLayoutKind): number {
    const name = `kmem_magazine_${rounds}`;
    const index = this.findIndex(name);
    if (index >= 0) return index;
    const flags = SlabFlag.NO_MAGAZINE | SlabFlag.INTERNAL;
    return this.addCache(name, calculateLayout((rounds + 1) * 4, 0, flags, this.possibleCpus, layoutKind), flags, 0, 0);
  }

  /** Writes a descriptor into a free slot. Table lock held. */
  private addCache(name: string, layout: CacheLayout, flags: number, rounds: number, magazineCache: number): number {
    let index = -1;
    for (let i = 0; i < this.maxCaches; i++) {
      if (this.w[this.cacheWord(i) + C_STATE] === CacheState.Free) {
        index = i;
        break;
      }
    }
    if (index < 0) throw new SlabLimitError(`cache table full: at most ${this.maxCaches} caches (boot option maxCaches)`);
    const base = this.cacheWord(index);
    const w = this.w;
    const gen = ((w[base + C_GEN] as number) + 1) & SLAB_GEN_MASK;
    this.wipeDescriptor(index);
    this.resetLockStats(index);
    w[base + C_GEN] = gen;
    writeName(this.bytes, (base + C_NAME) * 4, name);
    w[base + C_FLAGS] = flags;
    w[base + C_OBJECT_SIZE] = layout.objectSize;
    w[base + C_SIZE] = layout.size;
    w[base + C_ALIGN] = layout.align;
    w[base + C_INUSE] = layout.inuse;
    w[base + C_FREE_OFFSET] = layout.freeOffset;
    w[base + C_RED_LEFT_PAD] = layout.redLeftPad;
    w[base + C_ORDER] = layout.order;
    w[base + C_OBJS] = layout.objsPerSlab;
    w[base + C_ONSLAB_HEADER] = layout.onSlabHeaderBytes;
    w[base + C_COLOUR_MAX] = layout.colourMax;
    w[base + C_COLOUR_STEP] = layout.colourStep;
    w[base + C_ROUNDS] = rounds;
    w[base + C_MAGAZINE_CACHE] = magazineCache;
    for (let cpu = 0; cpu < this.cpus; cpu++) {
      const p = this.pcpuWord(index, cpu);
      // No magazines (P_LOADED and P_PREV 0), drain generation 0 as the zeroed descriptor's.
      w.fill(0, p, p + PCPU_WORDS);
      w[p + P_ROUNDS] = -1;
      w[p + P_PREV_ROUNDS] = -1;
    }
    Atomics.store(w, base + C_STATE, CacheState.Live);
    if (index >= (w[this.headerWord + H_NR_CACHES] as number)) w[this.headerWord + H_NR_CACHES] = index + 1;
    this.forget(index);
    return index;
  }

  /**
   * Zeroes slot `index`'s two lock records for the cache about to take the slot. Under the slot's
   * depot and slab locks (their order), since only a lock's holder writes its record: a CPU still
   * finishing a slow path of the slot's previous cache cannot be caught half-way through a count.
   * Table lock held.
   */
  private resetLockStats(index: number): void {
    const base = this.cacheWord(index);
    const depot = new LockWord(this.w, base + C_DEPOT_LOCK, this.slots);
    const slab = new LockWord(this.w, base + C_SLAB_LOCK, this.slots);
    depot.acquire();
    slab.acquire();
    this.lockStatsOf('depot', index).reset();
    this.lockStatsOf('slab', index).reset();
    slab.release();
    depot.release();
  }

  /** Drops this worker's handle and view of slot `index`; the handle's fast paths miss from now on. */
  private forget(index: number): void {
    this.wrappers.get(index)?.retire();
    this.wrappers.delete(index);
    this.contexts.delete(index);
    this.cpuSlab.clear(index * ROW_WORDS);
  }

  /** Refuses to destroy a cache while any CPU holds one of its magazines (full or empty). */
  private checkNoMagazines(cache: KmemCache): void {
    for (let cpu = 0; cpu < this.cpus; cpu++) {
      const p = this.pcpuWord(cache.index, cpu);
      if (Atomics.load(this.w, p + P_LOADED) !== 0 || Atomics.load(this.w, p + P_PREV) !== 0) {
        throw new CacheBusyError(cache.name, 0, [], `CPU ${cpu} still holds its magazines: drain() the cache (or detach()) in that worker first`);
      }
    }
  }

  /**
   * Refuses while a CPU is making a slab of the cache: grow() runs constructors with the slab lock
   * dropped, its new slab on no list yet (so leakedObjects cannot see it) and named only in that
   * CPU's hands, and publishes it when they return. A CPU killed there is the same until offlined.
   * Exact with the slab lock held (grow() sets and clears HAND_SLAB under it); destroyCache also
   * checks first without it.
   */
  private checkNotGrowing(cache: KmemCache): void {
    for (let cpu = 0; cpu < this.cpus; cpu++) {
      if (this.w[this.pcpuWord(cache.index, cpu) + P_HANDS + HAND_SLAB] !== 0) {
        throw new CacheBusyError(cache.name, 0, [], `CPU ${cpu} is making a slab of it (its constructors are running, or it died there: offlineCpu(${cpu}) first)`);
      }
    }
    // A thread with no CPU slot (H_NO_CPU_HANDS) never grows a cache that can be destroyed: a
    // KmemCache handle claims this thread's slot when it is made (cache.ts, pcpuBase).
  }

  /** Objects of a cache not free in its slabs (after its magazines were returned). Slab lock held. */
  private leakedObjects(cache: KmemCache): { count: number; addrs: number[] } {
    const addrs: number[] = [];
    let count = 0;
    for (const list of [C_PARTIAL, C_FULL]) {
      listWalk(this.w, cache.base + list, SLAB_LIST_LINKS, this.memMap.nrPages, (desc) => {
        count += this.w[cache.d(desc, D_INUSE)] as number;
        const smem = (this.w[cache.d(desc, D_SMEM)] as number) >>> 0;
        const objs = this.w[cache.d(desc, D_OBJS)] as number;
        for (let i = 0; i < objs && addrs.length < 16; i++) {
          const obj = smem + i * cache.size;
          if (cache.state.isAllocated(obj)) addrs.push(obj);
        }
      });
    }
    return { count, addrs };
  }
}

export { KmemCache };

/**
 * SlabAllocator serves the slab layers (context.ts SlabServices) through members the published
 * declarations leave out (@internal, stripInternal): an `implements` clause there would name
 * members a user's compiler cannot see, so the check is this unexported line instead (not emitted
 * into the declarations; a user's tsc without skipLibCheck then accepts them: test/arch/public-api.test.ts).
 */
const asSlabServices = (allocator: SlabAllocator): SlabServices => allocator;
void asSlabServices;
