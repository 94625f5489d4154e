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
export { Vm } from './mm/vm/vm.ts';
export type { AddressSpaceOptions, VmStats } from './mm/vm/vm.ts';
export { AddressSpace } from './mm/vm/mm-struct.ts';
export { MAP, PROT, MADV, VM, TASK_SIZE, DIRECT_MAP_BASE, VMALLOC_START, PMD_SIZE } from './mm/vm/types.ts';
export { SyscallError, SegvError } from './mm/vm/errors.ts';
export type { Errno, SegvReason } from './mm/vm/errors.ts';
export { setThpSettings, thpSettings, THP_ENABLED, THP_ALIGN_POLICIES } from './mm/vm/thp-settings.ts';
export type { ThpSettings, ThpEnabled, ThpAlignPolicy } from './mm/vm/thp-settings.ts';
export { bindCpu, CpuBinding } from './mm/vm/cpu-binding.ts';
export { writeDump } from './mm/dump/write.ts';
export type { DumpOptions } from './mm/dump/write.ts';
export { CrashDump, describeDump } from './mm/dump/read.ts';
export { DumpLevel, PageClass, PAGE_CLASS_NAMES, DumpFormatError } from './mm/dump/types.ts';
export type { DumpHeader, DumpClassCount } from './mm/dump/types.ts';
export { hibernate, resume, readHibernateHeader } from './mm/hibernate/image.ts';
export type { HibernateOptions } from './mm/hibernate/image.ts';
export { HibernationImageError, HibernationRefusedError, SECRETS_POLICY_NAMES } from './mm/hibernate/types.ts';
export type { HibernateHeader, SecretsPolicyName } from './mm/hibernate/types.ts';
export { SyncDomain } from './sync/domain.ts';
export type { SyncOptions, LockStats, LockRecovery as SyncLockRecovery, OfflineReport } from './sync/domain.ts';
export { Spinlock } from './sync/spinlock.ts';
export { Mutex } from './sync/mutex.ts';
export { Rcu } from './sync/rcu.ts';
export type { RcuOptions, RcuStall, RcuStats } from './sync/rcu.ts';
export type { WaiterPlacement } from './sync/types.ts';
export * from './sync/errors.ts';
export { LockBusyError, LockHolderDiedError, LockTimeoutError } from './sync/lock-word.ts';
export { secretAlloc, secretFree, secretRegionAt, isSensitivePage, SECRET_MAX_BYTES } from './mm/secret/secretmem.ts';
export { mlock, munlock, userPfn } from './mm/secret/tags.ts';
export { SECRET_PAGE_TAGS } from './mm/secret/types.ts';
export type { SecretRegion, SecretStats } from './mm/secret/types.ts';
export { SecretAccessError, SecretRegionError } from './mm/secret/errors.ts';
export { secretStats } from './mm/secret/validate.ts';
export { directMapPresent } from './mm/secret/direct-map.ts';
export { PageFlag, PAGE_SENSITIVITY_TAGS } from './mm/types.ts';
export { Kfence, KfenceError, attachKfence, enableKfence } from './mm/secret/kfence.ts';
export type { KfenceBug, KfenceOptions } from './mm/secret/kfence.ts';
export { swapon, swapAttach, swapOn } from './mm/swap/swapfile.ts';
export { swapoff } from './mm/swap/swapoff.ts';
export { BufferBacking } from './mm/swap/backing.ts';
export type { SwapBacking } from './mm/swap/backing.ts';
export { reclaimPages } from './mm/swap/vmscan.ts';
export type { ReclaimResult } from './mm/swap/vmscan.ts';
export { swapStats } from './mm/swap/validate.ts';
export type { SwapStats } from './mm/swap/types.ts';
export { SwapIoError, SwapDeviceError } from './mm/swap/errors.ts';
