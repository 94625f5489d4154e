/**
 * How a cache lays out its objects: pure functions of the object size, alignment, flags and CPU
 * count, following Linux SLUB (mm/slub.c calculate_sizes, calculate_order, calc_slab_order;
 * mm/slab_common.c calculate_alignment) and Bonwick's slab colouring (USENIX Summer 1994, §4.3).
 *
 * A slot (`size` bytes) as SLUB lays it out, offsets from the slot start:
 *
 *   [left red zone: redLeftPad][object: objectSize][right red zone → inuse][free word?][pad → size]
 *                              ^ the address handed out
 *
 * The free word is 8 bytes (a 64-bit kernel's free pointer), and kmem keeps the slab free-list
 * link in its first 4. It overlays the middle of the object (SLUB's ALIGN_DOWN(objectSize / 2, 8))
 * unless the object's bytes must survive while free: with a constructor, with poisoning, or with
 * red zoning of objects smaller than a word, it goes after the object, at `inuse`.
 *
 * Whether an object is allocated is not in the object at all: it is a bit of the allocation-state
 * bitmap (alloc-state.ts), so that no byte a caller writes can pass for a free object.
 *
 * Two slab layouts:
 *   slub     the slab descriptor lives off the slab; objects start at the slab's first byte; no
 *            colouring (SLUB has none). Objects per slab = slab bytes / size, as /proc/slabinfo shows.
 *   bonwick  small-object caches (size < page / 8) keep a 32-byte slab descriptor at the slab's
 *            end; each new slab starts its objects at the next colour, 0, align, 2·align, … up to
 *            the slack, wrapping to 0. 200-byte objects on a 4 KiB slab: 20 objects, 64 bytes of
 *            slack, colours 0, 8, …, 64 (Bonwick's example).
 */
import { ArgumentError } from '../../util/errors.ts';
import { MAX_PAGE_ORDER, PAGE_SIZE } from '../types.ts';

/** x86-64's L1 cache line (cache_line_size()). */
const CACHE_LINE_BYTES = 64;
/** A pointer on the 64-bit kernel kmem models: SLUB's word for alignment and free pointers. */
const WORD_BYTES = 8;
/** ARCH_SLAB_MINALIGN / ARCH_KMALLOC_MINALIGN on x86-64. */
const MIN_ALIGN = 8;
/** SLUB's default slub_max_order (PAGE_ALLOC_COSTLY_ORDER). */
const SLAB_MAX_ORDER = 3;
/** slab.objects is a 15-bit field in SLUB. */
const MAX_OBJS_PER_SLAB = 32767;
/** Bonwick's kmem_slab, kept at the end of a small-object slab. */
const BONWICK_SLAB_HEADER_BYTES = 32;

/** Cache flags (the SLAB_* of include/linux/slab.h that kmem models, and kmem's own). */
export const SlabFlag = {
  /** Align objects to the cache line (halved while the object fits twice). */
  HWCACHE_ALIGN: 1 << 0,
  /** Red zones around each object, checked on free and by validate(). (slab_debug=Z) */
  RED_ZONE: 1 << 1,
  /** Poison free objects (0x6b, last byte 0xa5); a changed byte is a use-after-free. (slab_debug=P) */
  POISON: 1 << 2,
  /** Slabs from the DMA zone. */
  CACHE_DMA: 1 << 3,
  /** Reclaimable: slabs are allocated with GFP.RECLAIMABLE. */
  RECLAIM_ACCOUNT: 1 << 4,
  /** Zero every object when it is allocated (init_on_alloc). */
  INIT_ON_ALLOC: 1 << 5,
  /** Zero every object when it is freed (init_on_free). */
  INIT_ON_FREE: 1 << 6,
  /** A kmalloc cache (its alignment is the size's largest power-of-two divisor). */
  KMALLOC: 1 << 7,
  /** No per-CPU magazine layer: every alloc and free goes to the slab layer (kmem's own caches). */
  NO_MAGAZINE: 1 << 8,
  /** The cache has a constructor (set by createCache when one is given). */
  HAS_CTOR: 1 << 9,
  /** kmem's own caches (slab descriptors, magazines): no kfree, no lookup by name. */
  INTERNAL: 1 << 10,
  /**
   * SLAB_TYPESAFE_BY_RCU: an empty slab's pages wait a grace period before they go back to the buddy
   * allocator (SlabServices.deferSlabPages); an object may be reused at once, so a lockless reader
   * must re-check that the object it reached is still the one it looked for.
   */
  TYPESAFE_BY_RCU: 1 << 11,
} as const;
export const SLAB_FLAGS_MASK = (1 << 12) - 1;
/** Flags that need the debug paths (every alloc and free checked and filled). */
export const SLAB_DEBUG_FLAGS = SlabFlag.RED_ZONE | SlabFlag.POISON;

/** Caches that always take the slow path: debug caches (as SLUB's bypass its per-CPU fast path) and those without magazines. */
export function isSlowOnly(flags: number): boolean {
  return (flags & (SLAB_DEBUG_FLAGS | SlabFlag.NO_MAGAZINE)) !== 0;
}

export type SlabLayoutKind = 'slub' | 'bonwick';

export interface CacheLayout {
  objectSize: number;
  /** Bytes per slot. */
  size: number;
  align: number;
  /** Object plus right red zone. */
  inuse: number;
  /** Offset of the 8-byte free word from the object's start. */
  freeOffset: number;
  redLeftPad: number;
  order: number;
  objsPerSlab: number;
  /** Bytes at the slab's end holding the slab descriptor (Bonwick's small-object slabs), else 0. */
  onSlabHeaderBytes: number;
  /** Largest colour offset (bytes); colours run 0, colourStep, … colourMax. 0 for no colouring. */
  colourMax: number;
  colourStep: number;
}

function alignUp(value: number, align: number): number {
  return Math.ceil(value / align) * align;
}

function alignDown(value: number, align: number): number {
  return Math.floor(value / align) * align;
}

/** fls(): the 1-based index of the highest set bit; fls(0) = 0. */
export function fls(value: number): number {
  return value === 0 ? 0 : 32 - Math.clz32(value);
}

/** get_order(): the smallest order whose block holds `bytes`. */
export function getOrder(bytes: number): number {
  let order = 0;
  while (PAGE_SIZE * 2 ** order < bytes) order++;
  return order;
}

/** calculate_alignment() (mm/slab_common.c), with the kmalloc rule of create_boot_cache(). */
export function calculateAlignment(flags: number, align: number, size: number): number {
  if ((flags & SlabFlag.KMALLOC) !== 0) align = Math.max(align, size & -size);
  if ((flags & SlabFlag.HWCACHE_ALIGN) !== 0) {
    let ralign = CACHE_LINE_BYTES;
    while (size <= ralign / 2) ralign /= 2;
    align = Math.max(align, ralign);
  }
  align = Math.max(align, MIN_ALIGN);
  return alignUp(align, WORD_BYTES);
}

/** order_objects(). */
function orderObjects(order: number, size: number): number {
  return Math.floor((PAGE_SIZE * 2 ** order) / size);
}

/** calc_slab_order(): the first order from min to max whose leftover is at most slab/fraction. */
function calcSlabOrder(size: number, minOrder: number, maxOrder: number, fraction: number): number {
  let order = minOrder;
  for (; order <= maxOrder; order++) {
    const slabBytes = PAGE_SIZE * 2 ** order;
    if (slabBytes % size <= slabBytes / fraction) break;
  }
  return order;
}

/**
 * calculate_order() as in Linux 6.8+: at least 4·(fls(cpus) + 1) objects per slab where that fits
 * within slub_max_order, waste first tolerated at 1/16 of the slab, then 1/8, 1/4, 1/2.
 * `cpus` is num_present_cpus() (nr_cpu_ids when it is ≤ 1).
 */
export function calculateOrder(size: number, cpus: number): number {
  const minObjectsWanted = 4 * (fls(cpus) + 1);
  const maxObjects = Math.max(orderObjects(SLAB_MAX_ORDER, size), 1);
  const minObjects = Math.min(minObjectsWanted, maxObjects);
  const minOrder = getOrder(minObjects * size);
  if (orderObjects(minOrder, size) > MAX_OBJS_PER_SLAB) return getOrder(size * MAX_OBJS_PER_SLAB) - 1;
  for (let fraction = 16; fraction > 1; fraction /= 2) {
    const order = calcSlabOrder(size, minOrder, SLAB_MAX_ORDER, fraction);
    if (order <= SLAB_MAX_ORDER) return order;
  }
  const order = getOrder(size);
  if (order <= MAX_PAGE_ORDER) return order;
  throw new ArgumentError(`object size ${size}: larger than the largest slab (order ${MAX_PAGE_ORDER})`);
}

/**
 * Rounds per magazine by slot size. Bonwick's illumos starts small (M = 15 up to 64 B, 7 up to
 * 256 B, 3 up to 3200 B, 1 above: kmem_magtype[]) and grows M when the depot lock is contended. In
 * kmem a depot exchange costs two Atomics lock round trips (tens of ns) against a few ns for a
 * round, so magazines start where illumos's growth leads: big enough that depot traffic stays
 * under a nanosecond per operation, while a CPU holds at most 2·M·size bytes per cache (32 KiB for
 * 256-byte objects, 120 KiB for 4 KiB ones). That is about what SLUB keeps per CPU: its CPU slab
 * plus set_cpu_partial()'s 120 / 52 / 24 / 6 objects for slots under 256 B / 1 KiB / 4 KiB / above
 * (mm/slub.c, 6.12). createCache's `magazineRounds` overrides it.
 */
export function defaultMagazineRounds(size: number): number {
  if (size <= 256) return 63;
  if (size <= 1024) return 31;
  if (size <= 4096) return 15;
  return 7;
}

/** The magazine sizes defaultMagazineRounds() gives; their caches exist from boot. */
export const DEFAULT_MAGAZINE_ROUNDS = [7, 15, 31, 63] as const;

/** calculate_sizes(), then the order and the colouring of the chosen layout. */
export function calculateLayout(objectSize: number, alignArg: number, flags: number, cpus: number, kind: SlabLayoutKind): CacheLayout {
  if (!Number.isInteger(objectSize) || objectSize < 1) throw new ArgumentError(`object size ${objectSize}: expected a positive whole number of bytes`);
  if (!Number.isInteger(alignArg) || alignArg < 0 || (alignArg & (alignArg - 1)) !== 0 || alignArg > PAGE_SIZE) {
    throw new ArgumentError(`alignment ${alignArg}: expected 0 or a power of two no larger than ${PAGE_SIZE}`);
  }
  const align = calculateAlignment(flags, alignArg, objectSize);
  let size = alignUp(objectSize, WORD_BYTES);
  const redZone = (flags & SlabFlag.RED_ZONE) !== 0;
  if (redZone && size === objectSize) size += WORD_BYTES;
  const inuse = size;
  let freeOffset: number;
  if ((flags & (SlabFlag.POISON | SlabFlag.HAS_CTOR)) !== 0 || (redZone && objectSize < WORD_BYTES)) {
    freeOffset = size;
    size += WORD_BYTES;
  } else {
    freeOffset = alignDown(Math.floor(objectSize / 2), WORD_BYTES);
  }
  let redLeftPad = 0;
  if (redZone) {
    size += WORD_BYTES;
    redLeftPad = alignUp(WORD_BYTES, align);
    size += redLeftPad;
  }
  size = alignUp(size, align);
  const order = calculateOrder(size, cpus);
  const slabBytes = PAGE_SIZE * 2 ** order;
  const onSlabHeaderBytes = kind === 'bonwick' && size < PAGE_SIZE / 8 ? BONWICK_SLAB_HEADER_BYTES : 0;
  const objsPerSlab = Math.floor((slabBytes - onSlabHeaderBytes) / size);
  if (objsPerSlab < 1) throw new ArgumentError(`object size ${objectSize}: no slot fits in a slab of order ${order}`);
  const slack = slabBytes - onSlabHeaderBytes - objsPerSlab * size;
  const colourStep = align;
  const colourMax = kind === 'bonwick' ? alignDown(slack, colourStep) : 0;
  return { objectSize, size, align, inuse, freeOffset, redLeftPad, order, objsPerSlab, onSlabHeaderBytes, colourMax, colourStep };
}
