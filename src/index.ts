/**
 * kmem's public API. Boot a kernel over fresh RAM, or attach to one another worker booted:
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
export { Accelerator, GpuUnavailableError, GpuShaderError, GpuDeviceError } from './machine/accelerator.ts';
export { NO_GROUP, WarpSlabAllocator, laneRequest, maxDispatchLanes } from './gpu/warp-allocator.ts';
export type { WarpAllocatorOptions, AllocPass, FreePass, WarpAllocatorStats } from './gpu/warp-allocator.ts';
export { WARP_DESIGNS } from './gpu/designs.ts';
export type { WarpDesign } from './gpu/designs.ts';
export { NO_OBJECT, DeviceArenaLayout } from './gpu/arena-layout.ts';
export * from './gpu/errors.ts';
export { NandDevice, PageState, EraseStatus, PowerLossError, NandError, CopybackSourceError } from './machine/nand.ts';
export type { NandGeometry, NandOptions, NandStats } from './machine/nand.ts';
export { NandImageFile } from './machine/nand-file.ts';
export { NAND_TIMINGS } from './machine/nand-timing.ts';
export { PageFtl } from './flash/ftl.ts';
export type { PageFtlConfig, PageFtlStats } from './flash/ftl.ts';
export { ObjectStore } from './flash/object-store.ts';
export type { ObjectStoreConfig, ObjectStoreStats } from './flash/object-store.ts';
export { InPlaceStore } from './flash/in-place.ts';
export type { LogStoreConfig } from './flash/log-store.ts';
export * from './flash/errors.ts';
export { TraceReader, TraceWorkload, TraceFormatError } from './flash/traces/reader.ts';
