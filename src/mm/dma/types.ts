/**
 * The map of the DMA API (mm/dma): constants, where its state lives, its invariants and locking.
 * Read this file first; Linux's Documentation/core-api/dma-api.rst and kernel/dma/ are the model.
 *
 * Arena state (RAM):
 *   coherent buffers      blocks of 2^order pages from the buddy allocator (GFP.DMA when the device's
 *                         mask does not reach all of RAM), so a buffer of ≤ 64 KiB never crosses a
 *                         64 KiB boundary: a buddy block is aligned to its own size.
 *   dma pool pages        coherent buffers of one page or more; each pool page has a descriptor from the
 *                         slab cache 'dma_page' (PD_* below); the free blocks of a page are linked
 *                         through their own first 4 bytes (as Linux's dma_pool does).
 *   swiotlb               pools of 2 KiB slots (IO_TLB_SIZE) carved from the DMA zone when the DMA API
 *                         starts (call it right after boot, as Linux reserves it at boot); per slot
 *                         three 32-bit words in a metadata block from the buddy allocator:
 *                         [orig paddr, mapping bytes (first slot), used: n slots on the first slot of a
 *                         mapping, -1 on its other slots, 0 when free].
 *
 * Invariants (validate()):
 *   swiotlb: a mapping's slots are contiguous, inside one pool and one segment of IO_TLB_SEGSIZE
 *   slots; usedSlots = Σ mappings' slots; a mapping of a page or more starts on a page.
 *   pool: per page, inUse + free blocks = blocks per page; no block crosses the pool's boundary.
 *   debug: every live streaming mapping has one entry; ownership is 'device' after map and
 *   syncForDevice, 'cpu' after syncForCpu.
 *
 * Host-side state, and why losing it is safe: the dma-debug table of live mappings (Linux's
 * dma_debug_entry hash; a debug aid that a resumed kernel rebuilds empty, as drivers re-map after
 * resume), the IOVA spaces of devices behind an IOMMU (iova.ts: reprogrammed with the IOMMU on
 * resume), the list of swiotlb pools and the pool heads (both rebuilt from the arena's region list by
 * whoever attaches), and counters.
 *
 * Locking: the DMA API runs on the worker that owns the device (one CPU); it takes no lock of its
 * own and calls the page and slab allocators, which take theirs.
 */

/** Linux's enum dma_data_direction, same numbers. */
export const DmaDirection = { Bidirectional: 0, ToDevice: 1, FromDevice: 2, None: 3 } as const;
export type DmaDirection = (typeof DmaDirection)[keyof typeof DmaDirection];
export const DMA_DIRECTION_NAMES: readonly string[] = ['DMA_BIDIRECTIONAL', 'DMA_TO_DEVICE', 'DMA_FROM_DEVICE', 'DMA_NONE'];

/** include/linux/swiotlb.h: slots of 2^IO_TLB_SHIFT = 2 KiB. */
export const IO_TLB_SHIFT = 11;
export const IO_TLB_SIZE = 1 << IO_TLB_SHIFT;
/** At most IO_TLB_SEGSIZE contiguous slots per mapping: 128 · 2 KiB = 256 KiB. */
export const IO_TLB_SEGSIZE = 128;
export const SWIOTLB_MAX_MAPPING_BYTES = IO_TLB_SEGSIZE * IO_TLB_SIZE;
/** Linux's default is 64 MiB (IO_TLB_DEFAULT_SIZE); kmem's default fits small emulated machines. */
export const SWIOTLB_DEFAULT_BYTES = 4 << 20;

/** dma_alloc_coherent's promise: a buffer of at most this size never crosses a boundary of this size. */
export const COHERENT_BOUNDARY_BYTES = 64 << 10;

/** Words of a swiotlb slot's metadata. */
export const SLOT_ORIG = 0;
export const SLOT_SIZE = 1;
export const SLOT_USED = 2;
export const SLOT_WORDS = 3;

/** A dma pool page descriptor, 32-bit words of a 'dma_page' slab object. */
export const PD_CPU_ADDR = 0;
export const PD_DMA = 1;
export const PD_IN_USE = 2;
/** Offset in the page of the first free block, or -1. */
export const PD_FREE = 3;
/** The next page descriptor of the pool, or 0. */
export const PD_NEXT = 4;
export const PD_WORDS = 5;
