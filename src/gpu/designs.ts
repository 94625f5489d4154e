/**
 * The three warp-allocator designs kmem puts side by side on one request stream (docs/gpu.md):
 *
 *   per-lane     every lane does its own atomics on the free ring and the bump pointer: the CPU
 *                allocator moved to the GPU, "a traffic jam of uncoordinated atomic operations";
 *   warp-batch   one elected lane reserves the whole group's objects with one atomic, broadcasts the
 *                base, each lane adds its exclusive prefix (warp-aggregated atomics);
 *   slab-bitmap  SlabAlloc: per-slab bitmaps searched by the warp's lanes, one atomicOr per round,
 *                frees with one atomicAnd.
 */
import { PER_LANE_WGSL, RING_WGSL, WARP_BATCH_WGSL } from './wgsl/ring.ts';
import { SLAB_BITMAP_WGSL } from './wgsl/slab-bitmap.ts';

export const WARP_DESIGNS = ['per-lane', 'warp-batch', 'slab-bitmap'] as const;
export type WarpDesign = (typeof WARP_DESIGNS)[number];

/** Where a design keeps its free objects: a ring plus bump pointer, or per-slab bitmaps. */
export type FreeStore = 'ring' | 'bitmap';

export interface DesignInfo {
  title: string;
  freeStore: FreeStore;
  /** WGSL defining allocate(lane, count) and release(lane, count). */
  wgsl: string;
}

export const DESIGNS: Readonly<Record<WarpDesign, DesignInfo>> = {
  'per-lane': { title: 'per-lane atomics (CPU-style)', freeStore: 'ring', wgsl: RING_WGSL + PER_LANE_WGSL },
  'warp-batch': { title: 'warp-aggregated batch (one atomic per group)', freeStore: 'ring', wgsl: RING_WGSL + WARP_BATCH_WGSL },
  'slab-bitmap': { title: 'SlabAlloc-style bitmaps (ballot, one atomicOr per round)', freeStore: 'bitmap', wgsl: SLAB_BITMAP_WGSL },
};
