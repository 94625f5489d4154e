/**
 * The kernel: boots over fresh RAM, or attaches to RAM another worker booted.
 *
 *   const kernel = Kernel.boot({ ramBytes: '256MiB', shared: true });
 *   worker.postMessage(kernel.buffer);                     // in the worker:
 *   const same = Kernel.attach(buffer);                    // the same kernel, not a copy
 *   const pfn = same.pages.allocPages(0, GFP.KERNEL);
 *
 * Boot order (as Linux's mm_init): format the boot header; memblock carves the struct-page arrays,
 * the zone descriptors and the pageblock flags top-down from the end of RAM; then every other frame
 * is freed into the buddy allocator. `attach()` reads the header's region directory and rebuilds the
 * host-side wrappers over the same bytes, writing nothing.
 */
import { PAGE_SIZE, Ram } from '../machine/ram.ts';
import type { RamBuffer } from '../machine/ram.ts';
import { ArgumentError } from '../util/errors.ts';
import { ArenaHeader, ArenaState, BootFlag, H } from './arena-header.ts';
import { CpuSlots, defaultCpuSlots } from './cpu-slots.ts';
import type { CpuSlotInfo } from './cpu-slots.ts';
import type { Region } from './arena-header.ts';
import { MemMap } from './mem-map.ts';
import { Memblock } from './memblock.ts';
import { PageAllocator } from './page-alloc.ts';
import type { PageAllocStats } from './vmstat.ts';
import { ShrinkerRegistry } from './shrinker.ts';
import { SlabAllocator } from './slab/allocator.ts';
import type { CreateCacheOptions, SlabBootOptions } from './slab/allocator.ts';
import type { Kmalloc } from './slab/kmalloc.ts';
import type { KmemCache } from './slab/cache.ts';
import type { SlabStats } from './slab/slabinfo.ts';
import type { LockStatValues } from '../sync/lock-stats.ts';
import type { LockOwner } from '../sync/lock-word.ts';
import { Vm } from './vm/vm.ts';

export interface BootOptions {
  /** RAM size: bytes, or with a unit ('256MiB'). A multiple of 4 KiB, at least 1 MiB, at most 4 GiB. */
  ramBytes: number | string;
  /** Back RAM with a SharedArrayBuffer so that workers can attach. Default false. */
  shared?: boolean;
  /**
   * CPU slots: every thread that will allocate, the booting one included (each holds one slot
   * while it runs; per-CPU magazines and page lists are indexed by slot). Default: the host's CPU
   * count (os.availableParallelism()).
   */
  cpus?: number;
  /**
   * nr_cpu_ids: the CPUs slab sizing assumes (SLUB's calculate_order()), up to 8192; only `cpus`
   * slots are reserved. Default `cpus`. 128 shows the /proc/slabinfo of a 128-CPU server.
   */
  possibleCpus?: number;
  /** Group pageblocks by migratetype, as Linux does by default. Default true. */
  groupByMobility?: boolean;
  /** At most this many pages in use at once (0 = no limit). Default 0. */
  pageLimit?: number;
  /** Per-CPU lists of order-0 pages (Linux's pcp, src/mm/pcp.ts). Default true. */
  pcp?: boolean;
  /**
   * The page allocator's expensive assertion tier: validate() after every allocPages and freePages
   * (the order-0 fast paths are off). For tests and debugging; O(pages) per call. Default false.
   */
  pageDebug?: boolean;
  /** The slab allocator's boot options: layout, debug flags, init_on_alloc/free, cache table size. */
  slab?: SlabBootOptions;
}

export interface KernelStats {
  ramBytes: number;
  pageSize: number;
  shared: boolean;
  cpus: number;
  possibleCpus: number;
  /** The CPU slots: who holds each (cpu-slots.ts). */
  cpuSlots: CpuSlotInfo[];
  /** Bytes of RAM the kernel's own metadata took at boot, the boot header included. */
  metadataBytes: number;
  /** metadataBytes / ramBytes. */
  metadataFraction: number;
  regions: Region[];
  pages: PageAllocStats;
  slab: SlabStats;
}

export interface AttachOptions {
  /**
   * The buffer is a copy of an arena another process (or an earlier run) used: every CPU slot it
   * held is offlined at attach, its magazines and per-CPU lists flushed back, and locks its threads
   * held become free to take over. Default false; over a plain ArrayBuffer (which no other thread
   * can be using) the slots other threads or processes claimed are offlined even so.
   */
  resume?: boolean;
  /** Constructors of caches created with one, by cache name (as registerCtor()). */
  ctors?: Readonly<Record<string, (addr: number) => void>>;
}

/** A lock taken over from a CPU that was offlined while holding it. */
export interface LockRecovery {
  /** Byte address of the lock word. */
  lockAddr: number;
  /** Who held it ("CPU 1 (epoch 3, offlined since)"). */
  holder: string;
}

export class Kernel {
  readonly shrinkers: ShrinkerRegistry;
  /** @internal */
  readonly memMap: MemMap;
  readonly pages: PageAllocator;
  private slabAllocator: SlabAllocator | null = null;
  /**
   * The slab allocator's kmalloc, held here too, so that kmalloc and kfree do not go through the
   * lazy `slab` getter: measured 32 vs 37 ns per churn pair with the caller using its objects
   * (`npm run bench -- --only churn`, A/B on one machine; V8 inlines the shorter chain whole).
   */
  private kmallocLayer: Kmalloc | null = null;
  readonly #slots: CpuSlots;
  readonly #recoveries: LockRecovery[] = [];
  readonly #ctorsByName = new Map<string, (addr: number) => void>();
  private vmLayer: Vm | null = null;

  private constructor(
    readonly ram: Ram,
    /** @internal */
    readonly header: ArenaHeader,
    slots: CpuSlots,
    pages: (shrinkers: ShrinkerRegistry, memMap: MemMap) => PageAllocator,
  ) {
    this.#slots = slots;
    slots.recovered = (lockIndex: number, token: number): void => {
      this.#recoveries.push({ lockAddr: lockIndex * 4, holder: slots.describe(token) });
    };
    this.shrinkers = new ShrinkerRegistry();
    this.memMap = MemMap.attach(ram, header);
    this.pages = pages(this.shrinkers, this.memMap);
    // slub_cpu_dead(): the slab allocator gives back the CPU's magazines (built here if need be).
    slots.onCpuOffline((cpu) => this.slab.offlineCpu(cpu));
    // page_alloc_cpu_dead(): that CPU's per-CPU page lists go back to the buddy allocator.
    slots.onCpuOffline((cpu) => this.pages.offlineCpu(cpu));
    slots.onCpuOffline((cpu) => {
      if (this.vmLayer !== null || this.header.get(H.VM_ROOT_PFN) > 0) this.vm.cpuOffline(cpu);
    });
  }

  /** @internal Who takes the kernel's locks (its CPU slots): locks made with it record their holder. */
  get lockOwner(): LockOwner {
    return this.#slots;
  }

  /** The slab allocator, as this worker sees it (built on first use; claims a CPU slot once a cache is used). */
  get slab(): SlabAllocator {
    if (this.slabAllocator === null) {
      const slab = SlabAllocator.attach(this.ram, this.header, this.pages, this.memMap, this.#slots);
      for (const [name, fn] of this.#ctorsByName) slab.registerCtor(name, fn);
      this.installSlab(slab);
    }
    return this.slabAllocator as SlabAllocator;
  }

  /** This thread's CPU slot, claimed on first use (Kernel.attach claims nothing). */
  get cpu(): number {
    return this.#slots.thisCpu();
  }

  thisCpu(): number {
    return this.#slots.thisCpu();
  }

  /** Registers a per-CPU teardown, run by offlineCpu() and detach() (Linux's cpuhp dead callbacks). */
  onCpuOffline(fn: (cpu: number) => void): void {
    this.#slots.onCpuOffline(fn);
  }

  /**
   * Takes CPU slot `cpu` offline (Linux's slub_cpu_dead / page_alloc_cpu_dead): its magazines and
   * per-CPU lists go back, locks it held become free to take over, and the slot is free again.
   * For a worker that exited without detach() (a crash, terminate()): call it from
   * `worker.on('exit')` with the slot and epoch the worker reported (cpuClaim()); a slot the
   * worker released and another thread claimed since is left alone. Returns whether it offlined.
   * Its holder must have stopped. It never waits long for a lock a live holder keeps (often a
   * worker that died too, whose 'exit' is queued behind this one): the slot's teardown is then
   * left pending (pendingOfflines()) and completes at the next offlineCpu() or on a timer.
   */
  offlineCpu(cpu: number, epoch?: number): boolean {
    return this.#slots.offline(cpu, epoch);
  }

  /** CPU slots marked offline whose teardown waits for a busy lock (see offlineCpu()). */
  pendingOfflines(): readonly number[] {
    return this.#slots.pendingOfflines();
  }

  /**
   * This thread's CPU slot and the epoch of its claim, claimed now if need be: what a worker
   * reports to the thread that will offlineCpu(cpu, epoch) it if it dies.
   */
  cpuClaim(): { cpu: number; epoch: number } {
    this.#slots.thisCpu();
    return this.#slots.claimInfo;
  }

  /** Gives back this thread's CPU slot and everything per-CPU it holds. Handles stay usable. */
  detach(): void {
    if (this.#slots.claimed >= 0) this.#slots.offline(this.#slots.claimed);
  }

  /** The constructor of cache `name` in this thread (a cache created with one needs it in every thread). */
  registerCtor(name: string, fn: (addr: number) => void): void {
    this.#ctorsByName.set(name, fn);
    this.slabAllocator?.registerCtor(name, fn);
  }

  /**
   * The kernel's own locks' contention statistics, by name: the zone locks ('zones.lockstat'), then
   * the slab locks ('slab.lockstat'). Text in /proc/lock_stat's layout: sync/lock-stats.ts lockStatText().
   */
  lockStats(): ({ name: string } & LockStatValues)[] {
    return [...this.pages.lockStats(), ...this.slab.lockStats()];
  }

  /** Locks this kernel took over from offlined holders, oldest first. */
  get lockRecoveries(): readonly LockRecovery[] {
    return this.#recoveries;
  }

  /** Virtual memory: address spaces, the direct map, vmalloc (mm/vm/vm.ts); made on first use by any worker. */
  get vm(): Vm {
    if (this.vmLayer === null) this.vmLayer = Vm.attach(this);
    return this.vmLayer;
  }

  private installSlab(slab: SlabAllocator): void {
    this.slabAllocator = slab;
    this.kmallocLayer = slab.kmalloc;
    this.shrinkers.register({ name: 'slab', shrink: () => slab.shrink() });
  }

  static boot(options: BootOptions): Kernel {
    const cpus = options.cpus ?? defaultCpuSlots();
    const possibleCpus = options.possibleCpus ?? cpus;
    const pageLimit = options.pageLimit ?? 0;
    if (!Number.isInteger(pageLimit) || pageLimit < 0) {
      throw new ArgumentError(`pageLimit ${pageLimit}: expected a whole number of pages (0 for none)`);
    }
    const ram = Ram.create({ sizeBytes: options.ramBytes, shared: options.shared ?? false });
    const flags = ((options.groupByMobility ?? true) ? BootFlag.GroupByMobility : 0) | ((options.pcp ?? true) ? 0 : BootFlag.NoPcp) | (options.pageDebug === true ? BootFlag.PageDebug : 0);
    const header = ArenaHeader.format(ram, flags, cpus, pageLimit);
    const memblock = new Memblock(ram, header);
    const slots = CpuSlots.boot(ram, memblock, cpus, possibleCpus);
    MemMap.reserve(ram, memblock);
    PageAllocator.reserve(ram, memblock, cpus);
    SlabAllocator.reserve(memblock, ram.sizeBytes, cpus, options.slab ?? {});
    const kernel = new Kernel(ram, header, slots, (shrinkers, memMap) =>
      PageAllocator.init(ram, header, memMap, shrinkers, memblock.firstReservedPfn),
    );
    kernel.installSlab(SlabAllocator.init(ram, header, kernel.pages, kernel.memMap, slots, options.slab ?? {}));
    kernel.connectPages();
    header.set(H.STATE, ArenaState.Running);
    return kernel;
  }

  /**
   * The kernel booted over `buffer` elsewhere (another worker, a saved image). Over a live shared
   * arena it changes no byte until this thread allocates; resuming a copy (see AttachOptions.resume)
   * offlines the CPU slots the copy's threads held.
   */
  static attach(buffer: RamBuffer, options: AttachOptions = {}): Kernel {
    const ram = Ram.over(buffer);
    const header = ArenaHeader.read(ram);
    const slots = CpuSlots.attach(ram, header.requireRegion('cpus').paddr);
    const kernel = new Kernel(ram, header, slots, (shrinkers, memMap) => PageAllocator.attach(ram, header, memMap, shrinkers));
    kernel.connectPages();
    for (const [name, fn] of Object.entries(options.ctors ?? {})) kernel.registerCtor(name, fn);
    if (options.resume === true) slots.offlineOthers();
    else if (!ram.shared) slots.offlineOthers(true);
    return kernel;
  }

  /**
   * The page allocator's per-CPU lists use this thread's CPU slot, its errors name a page's owner
   * the way the slab allocator describes addresses, its zone locks record their holders by CPU
   * slot (so that a zone lock a dead worker held is taken over, and the zone repaired), and it
   * drains no CPU slot that another thread holds.
   */
  private connectPages(): void {
    this.pages.connect(
      () => this.#slots.thisCpu(),
      (pfn) => this.slab.describeAddress(pfn * PAGE_SIZE),
      this.#slots,
    );
  }

  get buffer(): RamBuffer {
    return this.ram.buffer;
  }

  /** CPU slots (the `cpus` boot option). */
  get cpus(): number {
    return this.#slots.nrSlots;
  }

  /** nr_cpu_ids, which slab sizing assumes (the `possibleCpus` boot option). */
  get possibleCpus(): number {
    return this.#slots.possibleCpus;
  }

  /** Bytes the boot header and memblock's regions take. */
  get metadataBytes(): number {
    let bytes = this.ram.nrPages > 0 ? 4096 : 0;
    for (const region of this.header.regions()) bytes += region.sizeBytes;
    return bytes;
  }

  /** Checks every structure of every subsystem; throws InvariantError on the first broken rule. */
  validate(): void {
    this.pages.validate();
    this.slab.validate();
    if (this.vmLayer !== null || this.header.get(H.VM_ROOT_PFN) !== 0) this.vm.validate();
  }

  /** kmem_cache_create(): a cache of `sizeBytes` objects (see SlabAllocator.createCache). */
  createCache(name: string, sizeBytes: number, options?: CreateCacheOptions): KmemCache {
    return this.slab.createCache(name, sizeBytes, options);
  }

  /** kmalloc(): at least `sizeBytes` bytes; OutOfMemoryError when memory is exhausted. */
  kmalloc(sizeBytes: number, gfp?: number): number {
    return (this.kmallocLayer ?? this.slab.kmalloc).kmalloc(sizeBytes, gfp);
  }

  /** kmalloc() with GFP.NORETRY: null at once when memory is exhausted. */
  tryKmalloc(sizeBytes: number, gfp?: number): number | null {
    return (this.kmallocLayer ?? this.slab.kmalloc).tryKmalloc(sizeBytes, gfp);
  }

  kzalloc(sizeBytes: number, gfp?: number): number {
    return (this.kmallocLayer ?? this.slab.kmalloc).kzalloc(sizeBytes, gfp);
  }

  kfree(addr: number): void {
    (this.kmallocLayer ?? this.slab.kmalloc).kfree(addr);
  }

  ksize(addr: number): number {
    return (this.kmallocLayer ?? this.slab.kmalloc).ksize(addr);
  }

  krealloc(addr: number, sizeBytes: number, gfp?: number): number {
    return (this.kmallocLayer ?? this.slab.kmalloc).krealloc(addr, sizeBytes, gfp);
  }

  kfreeSensitive(addr: number): void {
    (this.kmallocLayer ?? this.slab.kmalloc).kfreeSensitive(addr);
  }

  stats(): KernelStats {
    return {
      ramBytes: this.ram.sizeBytes,
      pageSize: 4096,
      shared: this.ram.shared,
      cpus: this.cpus,
      possibleCpus: this.possibleCpus,
      cpuSlots: this.#slots.slots(),
      metadataBytes: this.metadataBytes,
      metadataFraction: this.metadataBytes / this.ram.sizeBytes,
      regions: this.header.regions(),
      pages: this.pages.stats(),
      slab: this.slab.stats(),
    };
  }
}
