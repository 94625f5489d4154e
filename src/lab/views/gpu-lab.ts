/**
 * The explorer's GPU machine: kmem's warp-centric slab allocators (src/gpu/warp-allocator.ts, WGSL
 * through the page's own WebGPU) on one small arena each, given the same seeded pass of requests —
 * lane i asks for 0–4 objects, some lanes ask for nothing. After the pass every object of the arena
 * is attributed to the warp (the group of lanes that aggregated together) whose lane received it.
 *
 * What that shows: the per-lane design reserves with one atomic per lane (on real hardware the warps'
 * objects interleave as the lanes' atomics land; a CPU-emulated adapter such as lavapipe or
 * SwiftShader runs a warp's lanes in order, so there they may not); the warp-batch design reserves a
 * whole warp's objects with one atomic, so on an empty arena each warp's objects form one contiguous
 * run, and the runs equal the atomics the lanes counted (test/web/explorer.test.ts checks it on the
 * drawing).
 */
import type { Accelerator } from '../../machine/accelerator.ts';
import { NO_OBJECT } from '../../gpu/arena-layout.ts';
import type { WarpDesign } from '../../gpu/designs.ts';
import { NO_GROUP, WarpSlabAllocator, laneRequest } from '../../gpu/warp-allocator.ts';
import type { AllocPass, WarpAllocatorStats } from '../../gpu/warp-allocator.ts';
import { Prng } from '../../util/prng.ts';

export const GPU_LAB_DESIGNS: readonly WarpDesign[] = ['per-lane', 'warp-batch'];
/** Warps a pass spans at most (each is drawn in its own colour). */
export const MAX_GROUPS = 16;
const OBJECTS_PER_SLAB = 64;
const PAGES = 16;
const OBJECT_BYTES = 16;
const MAX_PER_LANE = 4;

export interface DesignPass {
  design: WarpDesign;
  pass: AllocPass;
  /** Per object of the arena (in address order): the index of the warp that got it, or -1 when free. */
  owners: Int16Array;
  /** Warps with a lane that asked for something. */
  activeGroups: number;
  activeLanes: number;
  stats: WarpAllocatorStats;
}

export class GpuLab {
  private constructor(
    readonly accelerator: Accelerator,
    readonly allocators: WarpSlabAllocator[],
    private readonly rng: Prng,
  ) {}

  /** Compiles the designs on `accelerator` (the page's WebGPU: Accelerator.open()). */
  static async create(accelerator: Accelerator, seed: number): Promise<GpuLab> {
    const allocators: WarpSlabAllocator[] = [];
    for (const design of GPU_LAB_DESIGNS) {
      allocators.push(await WarpSlabAllocator.create(accelerator, { design, arenaBytes: PAGES * OBJECTS_PER_SLAB * OBJECT_BYTES, objectBytes: OBJECT_BYTES, objectsPerSlab: OBJECTS_PER_SLAB, maxObjectsPerLane: MAX_PER_LANE, maxLanes: 256 }));
    }
    return new GpuLab(accelerator, allocators, new Prng(seed));
  }

  get objects(): number {
    return PAGES * OBJECTS_PER_SLAB;
  }

  /** Lanes of a pass: as many warps as fit the palette, at most 256 lanes. */
  get lanes(): number {
    const warp = this.allocators[0]?.groupLanes ?? 32;
    return Math.min(256, MAX_GROUPS * warp);
  }

  /** One allocation pass of the same requests through every design, each on an empty arena. */
  async pass(): Promise<DesignPass[]> {
    const requests = new Uint32Array(this.lanes);
    for (let i = 0; i < requests.length; i++) requests[i] = this.rng.chance(0.8) ? laneRequest(1 + this.rng.int(MAX_PER_LANE)) : laneRequest(0, false);
    const out: DesignPass[] = [];
    for (const allocator of this.allocators) {
      await allocator.reset();
      const pass = await allocator.allocate(requests);
      out.push(this.attribute(allocator, pass));
    }
    return out;
  }

  private attribute(allocator: WarpSlabAllocator, pass: AllocPass): DesignPass {
    const { layout } = allocator;
    const k = layout.maxObjectsPerLane;
    const owners = new Int16Array(this.objects).fill(-1);
    // Group keys are whatever the lanes recorded: number them 0, 1, … in lane order.
    const index = new Map<number, number>();
    let activeLanes = 0;
    for (let lane = 0; lane < pass.lanes; lane++) {
      const key = pass.groupKeys[lane] as number;
      // An inactive lane joined no group (NO_GROUP).
      if (key === NO_GROUP) continue;
      activeLanes++;
      if (!index.has(key)) index.set(key, index.size);
      for (let j = 0; j < k; j++) {
        const address = pass.objects[lane * k + j] as number;
        if (address === NO_OBJECT) continue;
        const object = Math.floor(address / layout.slabWords) * layout.objectsPerSlab + (address % layout.slabWords) / layout.objectWords;
        owners[object] = index.get(key) as number;
      }
    }
    return { design: allocator.design, pass, owners, activeGroups: index.size, activeLanes, stats: allocator.stats() };
  }

  /** Runs of consecutive objects owned by one warp (what one reservation of contiguous fresh objects makes). */
  static runs(owners: ArrayLike<number>): number {
    let runs = 0;
    for (let i = 0; i < owners.length; i++) if ((owners[i] as number) >= 0 && owners[i] !== (i > 0 ? owners[i - 1] : -1)) runs++;
    return runs;
  }

  /** Frees the allocators' buffers (the accelerator is the caller's). */
  destroy(): void {
    for (const a of this.allocators) a.destroy();
  }
}
