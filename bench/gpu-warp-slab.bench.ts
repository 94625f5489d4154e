/**
 * Warp allocators on the WebGPU adapter: allocations per second of each design, on a fresh arena,
 * for two request streams (every lane one object, as SlabAlloc's 600 M allocs/s on a K40c was
 * measured; and a mixed stream with inactive lanes and 0..4 objects per lane). One timed pass runs
 * every lane once on a fresh arena; the time is the allocation kernel's, from the device's timestamps
 * (the host clock around submit → done where the adapter has none), and the figure is the median of
 * 9 passes, the three designs' passes interleaved; a warm-up pass keeps lavapipe's
 * compile-on-first-dispatch out of the figures.
 *
 * Host checks: the allocators run with `checkPasses: false`, because reading the whole arena back
 * after each pass (for the stamps) would dwarf the pass. What still runs: on every pass, the checks
 * of each result row (an object of a pool page, not handed to two lanes, none a lane did not ask
 * for) and that no allocation was refused on an arena sized for the stream; after the first pass of
 * each design, validate() (every pool object live or free, none lost, none free twice). Not run: the
 * stamp check and the check that NO_OBJECT came only from a full arena; the tests and the scenario
 * run those.
 *
 * Every group names the adapter and the aggregation path: a CPU adapter's figures say nothing about
 * GPUs. The code is the same on a real GPU (Dawn's Vulkan backend), where lanes grow from 2^20 to 2^22,
 * or to what one dispatch holds on the device if that is less (benchLanes). Each group names its lanes.
 */
import { DESIGNS, WARP_DESIGNS } from '../src/gpu/designs.ts';
import type { WarpDesign } from '../src/gpu/designs.ts';
import { WarpSlabAllocator, laneCount, laneRequest, maxDispatchLanes } from '../src/gpu/warp-allocator.ts';
import { mixedRequests } from '../src/lab/workloads/warp-requests.ts';
import { openAccelerator } from '../src/lab/gpu-policy.ts';
import type { Accelerator } from '../src/machine/accelerator.ts';
import { Prng } from '../src/util/prng.ts';
import type { AggregationPath } from '../src/gpu/wgsl/group-ops.ts';
import { median } from './harness.ts';
import type { BenchOptions, BenchResult } from './harness.ts';

/** The start of every group's name (the rest names the stream, lanes, adapter, path and clock). */
export const GPU_ALLOC_GROUP = 'gpu alloc';

interface Stream {
  name: string;
  maxPerLane: number;
  requests(lanes: number): Uint32Array;
}

const STREAMS: readonly Stream[] = [
  { name: 'one object per lane', maxPerLane: 1, requests: (lanes) => new Uint32Array(lanes).fill(laneRequest(1)) },
  { name: 'mixed: 25% lanes inactive, 0..4 objects', maxPerLane: 4, requests: (lanes) => mixedRequests(new Prng(1), lanes, 4, 0.25) },
];

const OBJECT_BYTES = 16;
const OBJECTS_PER_SLAB = 256;

/**
 * Lanes per timed pass: 2^20 on a CPU adapter, 2^22 on a GPU, but never more than one dispatch of
 * the allocator's default 64-lane workgroups holds on this device (4,194,240 at WebGPU's default of
 * 65535 workgroups per dimension; the device is opened with the adapter's own limit).
 */
export function benchLanes(device: Pick<Accelerator, 'isCpuAdapter' | 'maxWorkgroupsPerDimension'>, smoke: boolean): number {
  const wanted = smoke ? 4096 : device.isCpuAdapter ? 2 ** 20 : 2 ** 22;
  return Math.min(wanted, maxDispatchLanes(device));
}

/** The suite: every design on every stream, as benchmark results (per-lane is each group's baseline). */
export async function gpuWarpSlabResults(options: BenchOptions): Promise<BenchResult[]> {
  const opened = await openAccelerator();
  if (opened.accelerator === null) {
    process.stderr.write(`gpu-warp-slab benchmarks skipped: ${opened.unavailable.message}\n`);
    return [];
  }
  const { accelerator } = opened;
  try {
    const lanes = benchLanes(accelerator, options.smoke);
    const clock = accelerator.timestamps ? 'GPU timestamps' : 'host clock';
    const results: BenchResult[] = [];
    for (const stream of STREAMS) {
      const measured = await measureStream(accelerator, stream, lanes, options);
      const base = measured.get('per-lane')?.nsPerOp ?? NaN;
      for (const design of WARP_DESIGNS) {
        const figure = measured.get(design);
        if (figure === undefined) throw new Error(`${design}: not measured`);
        results.push({
          group: `${GPU_ALLOC_GROUP}, ${stream.name}, fresh arena of ${lanes} lanes; ${accelerator.label}, ${figure.path} path, ${clock}`,
          name: `${design}: ${DESIGNS[design].title}`,
          unit: 'allocation',
          nsPerOp: figure.nsPerOp,
          relative: figure.nsPerOp / base,
          iterations: figure.iterations,
        });
      }
    }
    return results;
  } finally {
    accelerator.destroy();
  }
}

/**
 * Every design on the same stream, their passes interleaved (per-lane, warp-batch, slab-bitmap,
 * per-lane, …) so that a burst of load on the machine lands on all three alike.
 */
async function measureStream(
  accelerator: Accelerator,
  stream: Stream,
  lanes: number,
  options: BenchOptions,
): Promise<Map<WarpDesign, { nsPerOp: number; iterations: number; path: AggregationPath }>> {
  const requests = stream.requests(lanes);
  const demand = requests.reduce((sum, word) => sum + laneCount(word), 0);
  const allocators: WarpSlabAllocator[] = [];
  try {
    for (const design of WARP_DESIGNS) {
      const allocator = await WarpSlabAllocator.create(accelerator, {
        design,
        // An eighth more than the stream asks for: no pass runs the arena full.
        arenaBytes: Math.ceil((demand * 1.125) / OBJECTS_PER_SLAB) * OBJECTS_PER_SLAB * OBJECT_BYTES,
        objectBytes: OBJECT_BYTES,
        objectsPerSlab: OBJECTS_PER_SLAB,
        maxObjectsPerLane: stream.maxPerLane,
        maxLanes: lanes,
        checkPasses: false,
      });
      allocators.push(allocator);
      await allocator.warmUp();
    }
    const samples = new Map<WarpDesign, number[]>(WARP_DESIGNS.map((d) => [d, []]));
    const passes = options.smoke ? 1 : 9;
    for (let p = 0; p < passes; p++) {
      for (const allocator of allocators) {
        await allocator.reset();
        const pass = await allocator.allocate(requests);
        if (p === 0) await allocator.validate();
        if (pass.outOfMemory !== 0) throw new Error(`${allocator.design}: ${pass.outOfMemory} allocations refused on an arena sized for the stream`);
        samples.get(allocator.design)?.push((pass.kernelNs ?? pass.wallNs) / pass.served);
      }
    }
    return new Map(allocators.map((a) => [a.design, { nsPerOp: median(samples.get(a.design) ?? []), iterations: demand * passes, path: a.path }]));
  } finally {
    for (const allocator of allocators) allocator.destroy();
  }
}
