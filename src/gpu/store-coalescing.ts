/**
 * Coalescing of the stores an allocation pass made. After getting its objects, each lane stamps its
 * j-th object, j = 0, 1, …, one 4-byte word at a time (program.ts grant(): `arena[addr + w] = tag`
 * for w < objectWords): store (j, w) is one warp-wide store instruction of 4 bytes per lane, executed
 * by the lanes of a warp that got a j-th object, their words objectBytes apart when their objects are
 * neighbours. The pass recorded which object each lane got and which group the lane ran in; this
 * groups lanes into warps and counts the sectors of each store (machine/coalescing.ts), against the
 * ideal of the same store with the lanes' objects packed in lane order.
 *
 * The kernel does not store a vec4: the arena is one array<u32> binding (objects may be any multiple
 * of 4 bytes, and WebGPU does not let one writable buffer be bound as two types), and nothing tells a
 * compiler that an object's words are 16-byte aligned, so it has no licence to merge them either.
 *
 * Two groupings: the warps that ran (on the subgroup path, the subgroup key each lane recorded; on
 * the workgroup path, runs of the subgroup size, measured where the device has subgroups and assumed
 * otherwise), and 32 consecutive lanes, what an NVIDIA warp would have been on the same addresses.
 */
import { CoalescingTally } from '../machine/coalescing.ts';
import { NO_OBJECT } from './arena-layout.ts';
import { SubgroupMismatchError } from './errors.ts';
import { NO_GROUP } from './warp-allocator.ts';
import type { AllocPass, WarpSlabAllocator } from './warp-allocator.ts';

/** Bytes one lane writes in one stamp store. */
export const STAMP_STORE_BYTES = 4;

/** A lane's warp: a key shared by exactly the lanes that stored together. */
export type WarpOf = (lane: number) => number;

/** An empty tally of stamp stores over objects of `objectBytes`. */
export function stampStores(objectBytes: number): CoalescingTally {
  return new CoalescingTally(STAMP_STORE_BYTES, objectBytes);
}

export function storeCoalescing(pass: Pick<AllocPass, 'lanes' | 'objects'>, objectBytes: number, maxObjectsPerLane: number, warpOf: WarpOf): CoalescingTally {
  const k = maxObjectsPerLane;
  const warps = new Map<number, number[]>();
  for (let lane = 0; lane < pass.lanes; lane++) {
    if (pass.objects[lane * k] === NO_OBJECT) continue; // objects are granted in slot order: no slot 0, no store
    const key = warpOf(lane);
    const lanes = warps.get(key);
    if (lanes === undefined) warps.set(key, [lane]);
    else lanes.push(lane);
  }
  const tally = stampStores(objectBytes);
  for (const lanes of warps.values()) {
    for (let j = 0; j < k; j++) {
      const objectStarts: number[] = [];
      for (const lane of lanes) {
        const address = pass.objects[lane * k + j] ?? NO_OBJECT;
        if (address !== NO_OBJECT) objectStarts.push(address * 4);
      }
      for (let offset = 0; offset < objectBytes; offset += STAMP_STORE_BYTES) {
        tally.addStore(objectStarts.map((start) => start + offset), offset);
      }
    }
  }
  return tally;
}

/** How `hardwareWarps` groups lanes on `allocator`, for labels: a short form and a full one. */
export function hardwareWarpsLabel(allocator: WarpSlabAllocator): { short: string; full: string } {
  if (allocator.path === 'subgroup') return { short: 'subgroups that ran', full: `the subgroups that ran, as the lanes recorded them, ${allocator.subgroupSize ?? '?'} lanes` };
  const size = allocator.warpLanes;
  if (allocator.subgroupSizeSource === 'measured') return { short: `${size}-lane runs, measured`, full: `runs of ${size} lanes, the subgroup size measured on the device` };
  const why = allocator.subgroupSize === null ? 'the workgroup: the adapter reports no subgroup size' : "the adapter's minimum subgroup size";
  return { short: `${size}-lane runs, assumed`, full: `runs of ${size} lanes, assumed: ${why}` };
}

/**
 * The warps that ran `pass` on `allocator`: the recorded subgroups on the subgroup path; on the
 * workgroup path, runs of the subgroup size (hardwareWarpsLabel says whether that size was measured).
 */
export function hardwareWarps(allocator: WarpSlabAllocator, pass: AllocPass): WarpOf {
  if (allocator.path === 'subgroup') return (lane) => pass.groupKeys[lane] ?? 0;
  return lanesWarps(allocator.warpLanes);
}

/** Warps of `lanes` consecutive lanes (32: an NVIDIA warp). */
export function lanesWarps(lanes: number): WarpOf {
  return (lane) => Math.floor(lane / lanes);
}

/** Active lanes per group that ran a pass, by group key, from the keys the lanes recorded (inactive lanes left out). */
export function lanesPerGroup(groupKeys: Uint32Array): Map<number, number> {
  const groups = new Map<number, number>();
  for (const key of groupKeys) if (key !== NO_GROUP) groups.set(key, (groups.get(key) ?? 0) + 1);
  return groups;
}

/**
 * Checks a subgroup-path pass whose requests made `active` lanes of every run of `size` lanes active
 * (activeLanesRequests) against what ran: the lanes must have recorded lanes/size subgroups with
 * `active` active lanes each, which holds only if every subgroup had `size` lanes, aligned to those
 * runs. Throws SubgroupMismatchError otherwise.
 */
export function assertActiveLanesPerSubgroup(pass: Pick<AllocPass, 'lanes' | 'groupKeys'>, size: number, active: number): void {
  const groups = lanesPerGroup(pass.groupKeys);
  const counts = new Map<number, number>();
  for (const n of groups.values()) counts.set(n, (counts.get(n) ?? 0) + 1);
  const expected = pass.lanes / size;
  if (groups.size !== expected || counts.size !== 1 || !counts.has(active)) {
    const ran = [...counts].sort(([a], [b]) => a - b).map(([n, groupCount]) => `${groupCount} with ${n}`).join(', ');
    throw new SubgroupMismatchError(
      `${pass.lanes} lanes with ${active} active in every run of ${size} ran in ${groups.size} subgroups (${ran || 'none'} active lanes): expected ${expected} subgroups of ${size} lanes with ${active} active each`,
    );
  }
}
