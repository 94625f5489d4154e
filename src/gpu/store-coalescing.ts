/**
 * Coalescing of the stores an allocation pass made. After getting its objects, each lane writes its
 * stamp over its j-th object, j = 0, 1, …: store j is one warp-wide store instruction, executed by
 * the lanes of a warp that got a j-th object. The pass recorded which object each lane got and which
 * group the lane ran in; this groups lanes into warps and counts the sectors of each store
 * (machine/coalescing.ts).
 *
 * Two groupings: the warps that really ran (the subgroup key each lane recorded; on the workgroup
 * path, runs of the adapter's subgroup size), and 32 consecutive lanes, what an NVIDIA warp would
 * have been on the same addresses.
 */
import { CoalescingTally } from '../machine/coalescing.ts';
import { NO_OBJECT } from './arena-layout.ts';
import type { AllocPass, WarpSlabAllocator } from './warp-allocator.ts';

/** A lane's warp: a key shared by exactly the lanes that stored together. */
export type WarpOf = (lane: number) => number;

export function storeCoalescing(pass: AllocPass, objectBytes: number, maxObjectsPerLane: number, warpOf: WarpOf): CoalescingTally {
  const k = maxObjectsPerLane;
  const warps = new Map<number, number[]>();
  for (let lane = 0; lane < pass.lanes; lane++) {
    if (pass.objects[lane * k] === NO_OBJECT) continue; // objects are granted in slot order: no slot 0, no store
    const key = warpOf(lane);
    const lanes = warps.get(key);
    if (lanes === undefined) warps.set(key, [lane]);
    else lanes.push(lane);
  }
  const tally = new CoalescingTally(objectBytes);
  for (const lanes of warps.values()) {
    for (let j = 0; j < k; j++) {
      const starts: number[] = [];
      for (const lane of lanes) {
        const address = pass.objects[lane * k + j] ?? NO_OBJECT;
        if (address !== NO_OBJECT) starts.push(address * 4);
      }
      tally.addStore(starts);
    }
  }
  return tally;
}

/** The warps that ran `pass` on `allocator`: recorded subgroups, or runs of the hardware subgroup size. */
export function hardwareWarps(allocator: WarpSlabAllocator, pass: AllocPass): WarpOf {
  if (allocator.path === 'subgroup') return (lane) => pass.groupKeys[lane] ?? 0;
  const size = allocator.subgroupSize ?? allocator.workgroupSize;
  return (lane) => Math.floor(lane / size);
}

/** Warps of `lanes` consecutive lanes (32: an NVIDIA warp). */
export function lanesWarps(lanes: number): WarpOf {
  return (lane) => Math.floor(lane / lanes);
}
