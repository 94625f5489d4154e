/**
 * kmem's public API, the package root (`import … from 'kmem'`): boot a kernel over fresh RAM, or
 * attach to one another worker booted. It imports no Node module, so bundlers can take it into a
 * browser; the flash stores are `kmem/flash`, the GPU allocators `kmem/gpu`, and what needs files
 * (NAND images, trace files) `kmem/node`.
 *
 *   import { Kernel, GFP } from 'kmem';
 *   const kernel = Kernel.boot({ ramBytes: '64MiB', shared: true });
 *   const pfn = kernel.pages.allocPages(0, GFP.KERNEL | GFP.ZERO);
 *   kernel.pages.freePages(pfn, 0);
 */
export { Kernel } from './mm/kernel.ts';
export type { BootOptions, KernelStats } from './mm/kernel.ts';
export { GFP } from './mm/gfp.ts';
export { PageAllocator } from './mm/page-alloc.ts';
export { MigrateType, MAX_PAGE_ORDER, PAGEBLOCK_ORDER, PAGE_SIZE, PAGE_SHIFT, ZoneId } from './mm/types.ts';
export * from './mm/errors.ts';
export { buddyinfo, pagetypeinfo, extfragIndexText, unusableIndexText, fragmentationIndex } from './mm/vmstat.ts';
export { Ram, RamSizeError, PhysicalAddressError } from './machine/ram.ts';
export { KmemError, InvariantError, ArgumentError } from './util/errors.ts';
export { ArenaFormatError } from './mm/arena-header.ts';
export { Prng } from './util/prng.ts';
export { SlabAllocator } from './mm/slab/allocator.ts';
export type { CreateCacheOptions, SlabBootOptions } from './mm/slab/allocator.ts';
export { KmemCache } from './mm/slab/cache.ts';
export { SlabFlag } from './mm/slab/layout.ts';
export * from './mm/slab/errors.ts';
export type { CacheStats, SlabStats } from './mm/slab/slabinfo.ts';
