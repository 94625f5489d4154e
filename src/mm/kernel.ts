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
import { Ram } from '../machine/ram.ts';
import type { RamBuffer } from '../machine/ram.ts';
import { ArgumentError } from '../util/errors.ts';
import { ArenaHeader, ArenaState, BootFlag, H } from './arena-header.ts';
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
import { Vm } from './vm/vm.ts';

export interface BootOptions {
  /** RAM size: bytes, or with a unit ('256MiB'). A multiple of 4 KiB, at least 1 MiB, at most 4 GiB. */
  ramBytes: number | string;
  /** Back RAM with a SharedArrayBuffer so that workers can attach. Default false. */
  shared?: boolean;
  /** Possible CPUs (workers) the kernel sizes per-CPU structures for. Default 2. */
  cpus?: number;
  /** Group pageblocks by migratetype, as Linux does by default. Default true. */
  groupByMobility?: boolean;
  /** At most this many pages in use at once (0 = no limit). Default 0. */
  pageLimit?: number;
  /** The slab allocator's boot options: layout, debug flags, init_on_alloc/free, cache table size. */
  slab?: SlabBootOptions;
}

export interface KernelStats {
  ramBytes: number;
  pageSize: number;
  shared: boolean;
  cpus: number;
  /** Bytes of RAM the kernel's own metadata took at boot, the boot header included. */
  metadataBytes: number;
  /** metadataBytes / ramBytes. */
  metadataFraction: number;
  regions: Region[];
  pages: PageAllocStats;
  slab: SlabStats;
}

const MAX_CPUS = 256;

export class Kernel {
  readonly shrinkers: ShrinkerRegistry;
  readonly memMap: MemMap;
  readonly pages: PageAllocator;
  private slabAllocator: SlabAllocator | null = null;
  /**
   * The slab allocator's kmalloc, held here too, so that kmalloc and kfree do not go through the
   * lazy `slab` getter: measured 32 vs 37 ns per churn pair with the caller using its objects
   * (`npm run bench -- --only churn`, A/B on one machine; V8 inlines the shorter chain whole).
   */
  private kmallocLayer: Kmalloc | null = null;
  private vmLayer: Vm | null = null;

  private constructor(
    readonly ram: Ram,
    readonly header: ArenaHeader,
    pages: (shrinkers: ShrinkerRegistry, memMap: MemMap) => PageAllocator,
  ) {
    this.shrinkers = new ShrinkerRegistry();
    this.memMap = MemMap.attach(ram, header);
    this.pages = pages(this.shrinkers, this.memMap);
  }

  /** The slab allocator, as this worker sees it (built on first use; claims a CPU slot once a cache is used). */
  get slab(): SlabAllocator {
    if (this.slabAllocator === null) this.installSlab(SlabAllocator.attach(this.ram, this.header, this.pages, this.memMap));
    return this.slabAllocator as SlabAllocator;
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
    const cpus = options.cpus ?? 2;
    if (!Number.isInteger(cpus) || cpus < 1 || cpus > MAX_CPUS) {
      throw new ArgumentError(`cpus ${cpus}: expected an integer in [1, ${MAX_CPUS}]`);
    }
    const pageLimit = options.pageLimit ?? 0;
    if (!Number.isInteger(pageLimit) || pageLimit < 0) {
      throw new ArgumentError(`pageLimit ${pageLimit}: expected a whole number of pages (0 for none)`);
    }
    const ram = Ram.create({ sizeBytes: options.ramBytes, shared: options.shared ?? false });
    const flags = (options.groupByMobility ?? true) ? BootFlag.GroupByMobility : 0;
    const header = ArenaHeader.format(ram, flags, cpus, pageLimit);
    const memblock = new Memblock(ram, header);
    MemMap.reserve(ram, memblock);
    PageAllocator.reserve(ram, memblock);
    SlabAllocator.reserve(memblock, cpus, options.slab ?? {});
    const kernel = new Kernel(ram, header, (shrinkers, memMap) =>
      PageAllocator.init(ram, header, memMap, shrinkers, memblock.firstReservedPfn),
    );
    kernel.installSlab(SlabAllocator.init(ram, header, kernel.pages, kernel.memMap, cpus, options.slab ?? {}));
    header.set(H.STATE, ArenaState.Running);
    return kernel;
  }

  /** The kernel booted over `buffer` elsewhere (another worker, a saved image). Changes no byte. */
  static attach(buffer: RamBuffer): Kernel {
    const ram = Ram.over(buffer);
    const header = ArenaHeader.read(ram);
    return new Kernel(ram, header, (shrinkers, memMap) => PageAllocator.attach(ram, header, memMap, shrinkers));
  }

  get buffer(): RamBuffer {
    return this.ram.buffer;
  }

  get cpus(): number {
    return this.header.get(H.NR_CPUS);
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

  /** kmalloc(): at least `sizeBytes` bytes; null only with GFP.NORETRY on exhaustion. */
  kmalloc(sizeBytes: number, gfp?: number): number | null {
    return (this.kmallocLayer ?? this.slab.kmalloc).kmalloc(sizeBytes, gfp);
  }

  kzalloc(sizeBytes: number, gfp?: number): number | null {
    return (this.kmallocLayer ?? this.slab.kmalloc).kzalloc(sizeBytes, gfp);
  }

  kfree(addr: number): void {
    (this.kmallocLayer ?? this.slab.kmalloc).kfree(addr);
  }

  ksize(addr: number): number {
    return (this.kmallocLayer ?? this.slab.kmalloc).ksize(addr);
  }

  krealloc(addr: number, sizeBytes: number, gfp?: number): number | null {
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
      metadataBytes: this.metadataBytes,
      metadataFraction: this.metadataBytes / this.ram.sizeBytes,
      regions: this.header.regions(),
      pages: this.pages.stats(),
      slab: this.slab.stats(),
    };
  }
}
