/**
 * GFP ("get free pages") flags: what an allocation may do and where its memory may come from
 * (include/linux/gfp_types.h). kmem models the flags that change what the page allocator does.
 */
import { ArgumentError } from '../util/errors.ts';
import { MigrateType, ZoneId } from './types.ts';

export const GFP = {
  /** Only the DMA zone (the first 16 MiB). */
  DMA: 1 << 0,
  /** Zero the memory before returning it. */
  ZERO: 1 << 1,
  /** A compound page: one head and 2^order - 1 tails that point to it. */
  COMP: 1 << 2,
  /** Movable memory (user pages, page cache): grouped apart so that it can be migrated away. */
  MOVABLE: 1 << 3,
  /** Reclaimable kernel memory (slab caches with shrinkers). */
  RECLAIMABLE: 1 << 4,
  /** On failure, return null at once: do not run the shrinkers and retry, do not raise. */
  NORETRY: 1 << 5,
  /** Do not count a failure in the zone's allocation-failure events. */
  NOWARN: 1 << 6,

  /** GFP_KERNEL: unmovable kernel memory. */
  KERNEL: 0,
  /** GFP_HIGHUSER_MOVABLE: user pages. */
  HIGHUSER_MOVABLE: 1 << 3,
} as const;

export const GFP_VALID_MASK = (1 << 7) - 1;

export function checkGfp(gfp: number): void {
  if (!Number.isInteger(gfp) || (gfp & ~GFP_VALID_MASK) !== 0) {
    throw new ArgumentError(`gfp flags 0x${gfp.toString(16)}: expected a combination of GFP.* (mask 0x${GFP_VALID_MASK.toString(16)})`);
  }
  if ((gfp & GFP.MOVABLE) !== 0 && (gfp & GFP.RECLAIMABLE) !== 0) {
    throw new ArgumentError('gfp flags: MOVABLE and RECLAIMABLE together name no migratetype');
  }
}

/**
 * The migratetype an allocation asks for (gfp_migratetype()). With grouping by mobility turned off
 * every allocation is Unmovable, as in Linux when `page_group_by_mobility_disabled` is set.
 */
export function gfpMigratetype(gfp: number, groupByMobility: boolean): MigrateType {
  if (!groupByMobility) return MigrateType.Unmovable;
  if ((gfp & GFP.MOVABLE) !== 0) return MigrateType.Movable;
  if ((gfp & GFP.RECLAIMABLE) !== 0) return MigrateType.Reclaimable;
  return MigrateType.Unmovable;
}

/** The highest zone an allocation may use; lower zones are its fallbacks (gfp_zone()). */
export function gfpZone(gfp: number): ZoneId {
  return (gfp & GFP.DMA) !== 0 ? ZoneId.DMA : ZoneId.Normal;
}
