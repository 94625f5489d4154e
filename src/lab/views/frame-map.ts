/**
 * What every page frame is doing, one byte per pfn, read from `struct page` (mem_map) and the
 * pageblock flags: the picture the explorer paints and a census tests compare with the kernel's
 * own counters.
 *
 *   FrameState.Reserved     memblock's reservations and the boot header (never in the buddy)
 *   FrameState.Free*        in a free block on a buddy list, by the migratetype of its pageblock
 *   FrameState.Slab         in a block a slab cache owns
 *   FrameState.Allocated*   in another allocated block, by the mobility it was asked for
 *   FrameState.FreePcp      free, on a CPU's per-CPU page list (the buddy does not see it)
 *   FrameState.Other        none of these: pages on their way between states
 *
 * One pass over the frames: a block's first page carries its flags and order, so the walk jumps
 * from block to block. The read takes no lock: on a shared arena with other workers running it is
 * a snapshot that may be torn between blocks, which is what a live view wants.
 */
import type { Kernel } from '../../mm/kernel.ts';
import { PAGEBLOCK_ORDER, PageFlag } from '../../mm/types.ts';

export const FrameState = {
  Reserved: 0,
  FreeUnmovable: 1,
  FreeMovable: 2,
  FreeReclaimable: 3,
  Slab: 4,
  AllocatedUnmovable: 5,
  AllocatedMovable: 6,
  AllocatedReclaimable: 7,
  Other: 8,
  FreePcp: 9,
} as const;
export type FrameState = (typeof FrameState)[keyof typeof FrameState];
export const FRAME_STATE_NAMES: readonly string[] = [
  'reserved',
  'free, unmovable',
  'free, movable',
  'free, reclaimable',
  'slab',
  'allocated, unmovable',
  'allocated, movable',
  'allocated, reclaimable',
  'other',
  'free, per-CPU list',
];

const FREE_BY_MT = [FrameState.FreeUnmovable, FrameState.FreeMovable, FrameState.FreeReclaimable, FrameState.FreeUnmovable];
const ALLOCATED_BY_MT = [FrameState.AllocatedUnmovable, FrameState.AllocatedMovable, FrameState.AllocatedReclaimable, FrameState.AllocatedUnmovable];

/** The state of every frame of `kernel`, into `out` (one byte per pfn; allocated when absent). */
export function frameMap(kernel: Kernel, out: Uint8Array = new Uint8Array(kernel.memMap.nrPages)): Uint8Array {
  const { flags, order } = kernel.memMap;
  const pageblockMt = kernel.pages.pageblockMt;
  const n = kernel.memMap.nrPages;
  let pfn = 0;
  while (pfn < n) {
    const f = flags[pfn] as number;
    if ((f & PageFlag.Reserved) !== 0) {
      out[pfn++] = FrameState.Reserved;
      continue;
    }
    let state: FrameState;
    if ((f & PageFlag.Buddy) !== 0) state = FREE_BY_MT[pageblockMt[pfn >>> PAGEBLOCK_ORDER] as number] ?? FrameState.FreeMovable;
    else if ((f & PageFlag.Pcp) !== 0) {
      out[pfn++] = FrameState.FreePcp; // pcp lists hold single pages
      continue;
    } else if ((f & PageFlag.Allocated) !== 0) state = (f & PageFlag.Slab) !== 0 ? FrameState.Slab : (ALLOCATED_BY_MT[kernel.memMap.allocMigratetype(pfn)] ?? FrameState.AllocatedUnmovable);
    else {
      out[pfn++] = FrameState.Other;
      continue;
    }
    const end = Math.min(n, pfn + (1 << (order[pfn] as number)));
    out.fill(state, pfn, end);
    pfn = end;
  }
  return out;
}

/** Frames in each state (indexed by FrameState). */
export function frameCensus(map: Uint8Array): number[] {
  const counts = new Array<number>(FRAME_STATE_NAMES.length).fill(0);
  for (let i = 0; i < map.length; i++) counts[map[i] as number] = (counts[map[i] as number] as number) + 1;
  return counts;
}

/** The free states, for totals. */
export const FREE_STATES: readonly FrameState[] = [FrameState.FreeUnmovable, FrameState.FreeMovable, FrameState.FreeReclaimable, FrameState.FreePcp];
