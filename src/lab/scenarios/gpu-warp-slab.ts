/**
 * gpu-warp-slab: what does a warp-centric allocator save over a CPU-style one on a real GPU API?
 *
 * Three designs (gpu/designs.ts) run as WGSL compute shaders through WebGPU, each on its own arena of
 * the same shape and on the same request stream:
 *
 *   sweep   a fresh arena per point; in every warp exactly `a` lanes ask for one object, a = 1 … the
 *           subgroup size, checked against the subgroups the lanes recorded on the subgroup path.
 *           Atomics per allocation and sectors per 4-byte stamp store, both as the kernels and the
 *           recorded addresses say, grouped by the warps that ran and by 32 lanes.
 *   churn   `passes` allocation passes of a mixed stream (inactive lanes, 0..K objects per lane),
 *           each followed by freeing a share of what is live: slabs run out, pages come from the
 *           pool until it is spent, lanes then get NO_OBJECT, freed objects are handed out again.
 *
 * The host checks every pass and the arena after it (gpu/warp-allocator.ts, checkPasses). Which object
 * a lane gets depends on which warp's atomic landed first, so atomics, sectors and reuse are marked
 * `scheduling`; objects served and refused are not: with each design exact about "full", they depend
 * only on the stream and the capacity, and must agree across the three designs.
 */
import { DESIGNS, WARP_DESIGNS } from '../../gpu/designs.ts';
import type { WarpDesign } from '../../gpu/designs.ts';
import { STAMP_STORE_BYTES, assertActiveLanesPerSubgroup, hardwareWarps, hardwareWarpsLabel, lanesWarps, stampStores, storeCoalescing } from '../../gpu/store-coalescing.ts';
import { GpuConfigError } from '../../gpu/errors.ts';
import { WarpSlabAllocator } from '../../gpu/warp-allocator.ts';
import type { AllocPass, WarpAllocatorOptions } from '../../gpu/warp-allocator.ts';
import type { GpuUnavailableError } from '../../machine/accelerator.ts';
import { SECTOR_BYTES } from '../../machine/coalescing.ts';
import type { CoalescingTally } from '../../machine/coalescing.ts';
import { assert } from '../../util/assert.ts';
import { Prng } from '../../util/prng.ts';
import { formatBytes } from '../../util/units.ts';
import { NO_ADAPTER_REMEDY, openAccelerator } from '../gpu-policy.ts';
import { ParamError } from '../params.ts';
import { defineScenario } from '../scenario.ts';
import type { Column, Plot, ScenarioResult, Table } from '../scenario.ts';
import { activeLanesRequests, freeRequests, mixedRequests } from '../workloads/warp-requests.ts';

/** Sectors per warp store, lanes grouped by the warps that ran and by 32. */
interface Stores {
  warp: CoalescingTally;
  lane32: CoalescingTally;
}

interface SweepPoint {
  active: number;
  atomics: number;
  served: number;
  stores: Stores;
}

interface DesignRun {
  design: WarpDesign;
  sweep: SweepPoint[];
  requested: number;
  served: number;
  outOfMemory: number;
  freed: number;
  live: number;
  reused: number;
  allocAtomics: number;
  freeAtomics: number;
  pagesCarved: number;
  stores: Stores;
  kernelNs: number;
  wallNs: number;
}

interface Setup {
  adapter: string;
  cpuAdapter: boolean;
  path: string;
  subgroupSize: number | null;
  subgroupSizeSource: string;
  groupLanes: number;
  /** How lanes are grouped into the warps that stored together (hardwareWarpsLabel). */
  warps: { short: string; full: string };
  timestamps: boolean;
}

/** The sweep's points: the asked-for active lanes per warp up to `size`, ascending, and `size` itself (a whole warp). */
function activePoints(size: number, asked: readonly number[]): number[] {
  const points = [...new Set(asked)].filter((a) => a <= size).sort((a, b) => a - b);
  if (!points.includes(size)) points.push(size);
  return points;
}

export const gpuWarpSlab = defineScenario({
  name: 'gpu-warp-slab',
  title: 'Warp-centric slab allocation on WebGPU: per-lane atomics vs. warp-aggregated batches vs. SlabAlloc bitmaps',
  question:
    'A CPU-style allocator on a GPU has every thread do its own atomic: how many atomics and memory sectors does one warp-aggregated atomic per batch, or a SlabAlloc-style bitmap, save, on a real GPU API?',
  wallClock: true,
  params: {
    lanes: {
      kind: 'int',
      default: 32768,
      min: 64,
      max: 1 << 22,
      description: "invocations (lanes) per pass; at most one dispatch's worth on the device (4,194,240 with 64-lane workgroups at WebGPU's default limit)",
    },
    maxPerLane: { kind: 'int', default: 4, min: 1, max: 16, description: 'most objects one lane asks for in a pass (K)' },
    inactiveShare: { kind: 'number', default: 0.25, min: 0, max: 0.95, description: 'share of lanes inactive in a churn pass' },
    objectBytes: { kind: 'size', default: 16, min: 4, max: 1024, description: 'object size (a multiple of 4)' },
    objectsPerSlab: { kind: 'int', default: 256, min: 32, max: 4096, description: 'objects per slab (page), a multiple of 32' },
    arenaBytes: { kind: 'size', default: 2 << 20, min: 4096, max: 64 << 20, description: 'device arena of the churn phase' },
    passes: { kind: 'int', default: 10, min: 1, max: 1000, description: 'allocation passes of the churn phase' },
    freeShare: { kind: 'number', default: 0.25, min: 0, max: 1, description: 'share of live objects freed after each churn pass' },
    aggregation: { kind: 'enum', values: ['auto', 'workgroup'] as const, default: 'auto', description: "'auto': subgroups where the adapter has them; 'workgroup' forces the fallback path" },
    workgroupSize: { kind: 'int', default: 64, min: 8, max: 256, description: 'lanes per workgroup' },
    sweepActiveLanes: {
      kind: 'numbers',
      default: [1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64],
      min: 1,
      max: 128,
      multipleOf: 1,
      description: 'active lanes per warp at the points of the sweep (those above the warp size are left out; a whole warp is always a point)',
    },
  },
  smoke: { lanes: 1024, arenaBytes: 64 << 10, passes: 4, sweepActiveLanes: [1, 4] },
  check: (p) =>
    p.objectBytes % 4 !== 0
      ? `--object-bytes ${p.objectBytes} is not a multiple of 4`
      : p.objectsPerSlab % 32 !== 0
        ? `--objects-per-slab ${p.objectsPerSlab} is not a multiple of 32`
        : p.objectsPerSlab * p.objectBytes > p.arenaBytes
          ? `--arena-bytes ${p.arenaBytes} holds no slab of --objects-per-slab ${p.objectsPerSlab} × --object-bytes ${p.objectBytes}`
          : null,
  async run(params, ctx) {
    const { lanes, arenaBytes, passes } = params;
    // With subgroups even when the workgroup path is forced: the allocator then measures the subgroup
    // size its warps are grouped by, and its program still uses no subgroup operation.
    const opened = await openAccelerator();
    if (opened.accelerator === null) return unavailable(opened.unavailable);
    const { accelerator } = opened;
    try {
      const base: Omit<WarpAllocatorOptions, 'design' | 'arenaBytes'> = {
        objectBytes: params.objectBytes,
        objectsPerSlab: params.objectsPerSlab,
        maxObjectsPerLane: params.maxPerLane,
        maxLanes: lanes,
        aggregation: params.aggregation === 'workgroup' ? 'workgroup' : 'auto',
        workgroupSize: params.workgroupSize,
      };
      const slabBytes = params.objectsPerSlab * params.objectBytes;
      const sweepArenaBytes = Math.ceil(lanes / params.objectsPerSlab) * slabBytes;
      const churnArenaBytes = Math.max(slabBytes, Math.floor(arenaBytes / slabBytes) * slabBytes);
      const streams = Array.from({ length: passes }, (_, p) => mixedRequests(new Prng(ctx.seed * 7919 + p), lanes, params.maxPerLane, params.inactiveShare));
      const runs: DesignRun[] = [];
      let setup: Setup | null = null;
      // The allocator checks the options against the device (lanes per dispatch, the subgroup size,
      // binding limits); what it refuses, the parameters asked for.
      const create = async (options: WarpAllocatorOptions): Promise<WarpSlabAllocator> => {
        try {
          return await WarpSlabAllocator.create(accelerator, options);
        } catch (error) {
          if (!(error instanceof GpuConfigError)) throw error;
          throw new ParamError(`scenario 'gpu-warp-slab' (--lanes ${lanes}, --workgroup-size ${params.workgroupSize}): ${error.message}`);
        }
      };
      for (const [d, design] of WARP_DESIGNS.entries()) {
        const sweeper = await create({ ...base, design, arenaBytes: sweepArenaBytes });
        const churner = await create({ ...base, design, arenaBytes: churnArenaBytes });
        try {
          setup ??= {
            adapter: accelerator.label,
            cpuAdapter: accelerator.isCpuAdapter,
            path: sweeper.path,
            subgroupSize: sweeper.subgroupSize,
            subgroupSizeSource: sweeper.subgroupSizeSource ?? 'unknown',
            groupLanes: sweeper.groupLanes,
            warps: hardwareWarpsLabel(sweeper),
            timestamps: accelerator.timestamps,
          };
          const run = await churn(churner, streams, params.freeShare, ctx.seed, (p) => ctx.progress(d * 2 * passes + p, WARP_DESIGNS.length * 2 * passes, design));
          run.sweep = await sweep(sweeper, activePoints(sweeper.warpLanes, params.sweepActiveLanes), lanes, ctx.seed);
          runs.push(run);
        } finally {
          sweeper.destroy();
          churner.destroy();
        }
      }
      assert(setup !== null, 'gpu-warp-slab: expected WARP_DESIGNS to name at least one design');
      return assemble(runs, setup, { lanes, arenaBytes: churnArenaBytes, passes, objectBytes: params.objectBytes, maxPerLane: params.maxPerLane });
    } finally {
      accelerator.destroy();
    }
  },
});

function storesOf(allocator: WarpSlabAllocator, pass: AllocPass): Stores {
  const { objectBytes, maxObjectsPerLane } = allocator.layout;
  return {
    warp: storeCoalescing(pass, objectBytes, maxObjectsPerLane, hardwareWarps(allocator, pass)),
    lane32: storeCoalescing(pass, objectBytes, maxObjectsPerLane, lanesWarps(32)),
  };
}

/**
 * One pass per point on a fresh arena, `active` lanes of every warp asking for one object. The sweep
 * uses whole warps only. On the subgroup path a point's active lanes per warp are checked against the
 * subgroups the lanes recorded (SubgroupMismatchError if they are not whole subgroups of the measured
 * size with `active` active lanes each); on the workgroup path warps are runs of the subgroup size,
 * measured or assumed (Setup.warps says which).
 */
async function sweep(allocator: WarpSlabAllocator, points: readonly number[], lanes: number, seed: number): Promise<SweepPoint[]> {
  const warp = allocator.warpLanes;
  const sweepLanes = lanes - (lanes % warp);
  if (sweepLanes === 0) throw new ParamError(`scenario 'gpu-warp-slab', --lanes: ${lanes} is out of range: expected at least one whole warp of ${warp} lanes for the sweep`);
  const out: SweepPoint[] = [];
  for (const active of points) {
    await allocator.reset();
    const pass = await allocator.allocate(activeLanesRequests(new Prng(seed * 31 + active), sweepLanes, warp, active));
    if (allocator.path === 'subgroup') assertActiveLanesPerSubgroup(pass, warp, active);
    out.push({ active, atomics: pass.atomics, served: pass.served, stores: storesOf(allocator, pass) });
  }
  return out;
}

async function churn(allocator: WarpSlabAllocator, streams: readonly Uint32Array[], freeShare: number, seed: number, progress: (done: number) => void): Promise<DesignRun> {
  const { objectBytes, maxObjectsPerLane } = allocator.layout;
  await allocator.warmUp();
  const stores: Stores = { warp: stampStores(objectBytes), lane32: stampStores(objectBytes) };
  let kernelNs = 0;
  let wallNs = 0;
  for (const [p, stream] of streams.entries()) {
    const pass = await allocator.allocate(stream);
    const passStores = storesOf(allocator, pass);
    stores.warp.merge(passStores.warp);
    stores.lane32.merge(passStores.lane32);
    kernelNs += pass.kernelNs ?? pass.wallNs;
    wallNs += pass.wallNs;
    progress(2 * p + 1);
    const live = allocator.liveObjects();
    const frees = freeRequests(new Prng(seed * 104729 + p), live, Math.round(freeShare * live.length), maxObjectsPerLane);
    for (let first = 0; first < frees.length; first += allocator.maxLanes) await allocator.free(frees.slice(first, first + allocator.maxLanes));
    progress(2 * p + 2);
  }
  await allocator.validate();
  const stats = allocator.stats();
  return {
    design: allocator.design,
    sweep: [],
    requested: stats.requested,
    served: stats.served,
    outOfMemory: stats.outOfMemory,
    freed: stats.freed,
    live: stats.live,
    reused: stats.reused,
    allocAtomics: stats.allocAtomics,
    freeAtomics: stats.freeAtomics,
    pagesCarved: await allocator.pagesCarved(),
    stores,
    kernelNs,
    wallNs,
  };
}

function unavailable(error: GpuUnavailableError): ScenarioResult {
  return {
    answer: `Not run: no WebGPU adapter (${error.message}).`,
    summary: [`Not run: ${error.message}.`, `${NO_ADAPTER_REMEDY}. Set KMEM_REQUIRE_GPU=1 to make this a failure (CI does).`],
    tables: [
      {
        id: 'adapter',
        title: 'WebGPU adapter',
        columns: [
          { key: 'adapter', label: 'adapter' },
          { key: 'reason', label: 'why not' },
        ],
        rows: [{ adapter: 'none', reason: error.message }],
      },
    ],
    plots: [],
  };
}

const ratio = (a: number, b: number): number => (b === 0 ? 0 : a / b);

function storeColumns(setup: Setup): Column[] {
  return [
    { key: 'warpSectors', label: `sectors per warp store (${setup.warps.short})`, digits: 2 },
    { key: 'warpIdeal', label: 'ideal', digits: 2 },
    { key: 'lane32Sectors', label: 'sectors per warp store (32 lanes)', digits: 2 },
    { key: 'lane32Ideal', label: 'ideal', digits: 2 },
  ];
}

const STORE_NOTE = `A warp store is one store instruction of the stamp loop: word w of each lane's j-th object, ${STAMP_STORE_BYTES} bytes per lane (the kernel writes an object a word at a time). The ideal is the same store with the lanes' objects packed in lane order from an aligned address. Sectors are ${SECTOR_BYTES}-byte.`;

function storeCells(stores: Stores) {
  return {
    warpSectors: stores.warp.sectorsPerStore,
    warpIdeal: stores.warp.idealPerStore,
    lane32Sectors: stores.lane32.sectorsPerStore,
    lane32Ideal: stores.lane32.idealPerStore,
  };
}

interface Shape {
  lanes: number;
  arenaBytes: number;
  passes: number;
  objectBytes: number;
  maxPerLane: number;
}

function assemble(runs: readonly DesignRun[], setup: Setup, shape: Shape): ScenarioResult {
  const first = runs[0];
  const agree = runs.every((r) => first !== undefined && r.served === first.served && r.outOfMemory === first.outOfMemory && r.freed === first.freed);
  const timeSource = setup.timestamps ? 'GPU timestamps' : 'wall clock';
  const adapterNote = setup.cpuAdapter ? 'a CPU adapter: its times say nothing about GPUs' : 'a GPU adapter';
  const byDesign = (design: WarpDesign): DesignRun | undefined => runs.find((r) => r.design === design);
  const perLane = byDesign('per-lane');
  const batch = byDesign('warp-batch');
  const summary = [
    `Adapter: ${setup.adapter}; ${setup.path} path (${setup.path === 'subgroup' ? 'subgroup operations' : `workgroups of ${setup.groupLanes} lanes, workgroup atomics and barriers`}; subgroup size ${setup.subgroupSize ?? '?'}, ${setup.subgroupSizeSource}).`,
    `Churn: ${shape.passes} passes of ${shape.lanes} lanes (0..${shape.maxPerLane} objects of ${shape.objectBytes} B each) over a ${formatBytes(shape.arenaBytes)} arena: ${first?.served ?? 0} of ${first?.requested ?? 0} objects served, ${first?.outOfMemory ?? 0} refused (NO_OBJECT), ${first?.freed ?? 0} freed; the ${runs.length} designs ${agree ? 'agree' : 'DISAGREE'}.`,
    `Atomics per allocation: ${runs.map((r) => `${r.design} ${ratio(r.allocAtomics, r.served).toFixed(3)}`).join(', ')}${perLane !== undefined && batch !== undefined ? ` (warp-batch issues ${ratio(perLane.allocAtomics, batch.allocAtomics).toFixed(1)}× fewer)` : ''}.`,
    `Sectors per ${STAMP_STORE_BYTES}-byte stamp store (warps: ${setup.warps.full}; ideal ${first?.stores.warp.idealPerStore.toFixed(2) ?? '?'}): ${runs.map((r) => `${r.design} ${r.stores.warp.sectorsPerStore.toFixed(2)}`).join(', ')}.`,
    `Allocation kernel time from ${timeSource} on ${adapterNote}: ${runs.map((r) => `${r.design} ${(ratio(r.served, r.kernelNs) * 1e3).toFixed(1)} M allocations/s`).join(', ')}.`,
  ];
  const adapter: Table = {
    id: 'adapter',
    title: 'WebGPU adapter and aggregation path',
    columns: [
      { key: 'adapter', label: 'adapter' },
      { key: 'path', label: 'aggregation path' },
      { key: 'subgroup', label: 'subgroup size' },
      { key: 'subgroupSource', label: 'subgroup size is' },
      { key: 'warps', label: 'warps of the store counts' },
      { key: 'group', label: 'lanes per aggregation group' },
      { key: 'timestamps', label: 'timestamp queries' },
    ],
    rows: [
      {
        adapter: setup.adapter,
        path: setup.path,
        subgroup: setup.subgroupSize,
        subgroupSource: setup.subgroupSizeSource,
        warps: setup.warps.full,
        group: setup.groupLanes,
        timestamps: setup.timestamps,
      },
    ],
  };
  const stream: Table = {
    id: 'stream',
    title: 'Churn: the same request stream through each design',
    columns: [
      { key: 'design', label: 'design' },
      { key: 'requested', label: 'objects requested' },
      { key: 'served', label: 'served' },
      { key: 'oom', label: 'refused (out of memory)' },
      { key: 'freed', label: 'freed' },
      { key: 'live', label: 'live at the end' },
    ],
    rows: runs.map((r) => ({ design: r.design, requested: r.requested, served: r.served, oom: r.outOfMemory, freed: r.freed, live: r.live })),
    note: 'Every design refuses an object only when its arena is full, so served and refused depend only on the stream: the rows must agree.',
  };
  const measured: Table = {
    id: 'measured',
    title: 'Churn: what the kernels did',
    scheduling: true,
    columns: [
      { key: 'design', label: 'design' },
      { key: 'atomicsPerAlloc', label: 'atomics per allocation', digits: 3 },
      { key: 'atomicsPerFree', label: 'atomics per free', digits: 3 },
      ...storeColumns(setup),
      { key: 'reused', label: 'served from freed memory' },
      { key: 'pages', label: 'pages taken from the pool' },
    ],
    rows: runs.map((r) => ({
      design: r.design,
      atomicsPerAlloc: ratio(r.allocAtomics, r.served),
      atomicsPerFree: ratio(r.freeAtomics, r.freed),
      ...storeCells(r.stores),
      reused: r.reused,
      pages: r.pagesCarved,
    })),
    note: `Atomics are the read-modify-writes on shared allocator state each lane counted as it issued them. ${STORE_NOTE}`,
  };
  const sweepRows = runs.flatMap((r) =>
    r.sweep.map((s) => ({
      design: r.design,
      active: s.active,
      atomicsPerAlloc: ratio(s.atomics, s.served),
      ...storeCells(s.stores),
    })),
  );
  const sweepTable: Table = {
    id: 'sweep',
    title: 'One object per active lane, fresh arena: cost vs. active lanes per warp',
    scheduling: true,
    columns: [
      { key: 'design', label: 'design' },
      { key: 'active', label: `active lanes per warp (${setup.warps.short})` },
      { key: 'atomicsPerAlloc', label: 'atomics per allocation', digits: 3 },
      ...storeColumns(setup),
    ],
    rows: sweepRows,
    note: STORE_NOTE,
  };
  const timing: Table = {
    id: 'timing',
    title: `Allocation kernel time on ${setup.adapter} (${timeSource})`,
    timing: true,
    columns: [
      { key: 'design', label: 'design' },
      { key: 'kernelMs', label: 'allocation kernels', unit: 'ms', digits: 2 },
      { key: 'rate', label: 'allocations per second', unit: 'M', digits: 1 },
      { key: 'wallMs', label: 'submit to done, host clock', unit: 'ms', digits: 2 },
    ],
    rows: runs.map((r) => ({ design: r.design, kernelMs: r.kernelNs / 1e6, rate: ratio(r.served, r.kernelNs) * 1e3, wallMs: r.wallNs / 1e6 })),
    note: `Churn passes after a warm-up pass. This is ${adapterNote}.`,
  };
  const designLabel = (r: DesignRun): string => `${r.design}: ${DESIGNS[r.design].title}`;
  const activeAxis = { label: `active lanes per warp (${setup.warps.short})` };
  // Sectors against the ideal, one panel per design: the designs often all sit on the ideal, and
  // in one panel they would hide each other.
  const sectorSeries = runs.flatMap((r) => [
    { label: `warps: ${setup.warps.short}`, panel: designLabel(r), points: r.sweep.map((s): [number, number] => [s.active, ratio(s.stores.warp.sectorsPerStore, s.stores.warp.idealPerStore)]) },
    { label: 'groups of 32 lanes (an NVIDIA warp)', panel: designLabel(r), style: 'points' as const, points: r.sweep.map((s): [number, number] => [s.active, ratio(s.stores.lane32.sectorsPerStore, s.stores.lane32.idealPerStore)]) },
    { label: 'ideal (packed, aligned) = 1', panel: designLabel(r), style: 'dashed' as const, points: r.sweep.map((s): [number, number] => [s.active, 1]) },
  ]);
  const plots: Plot[] = [
    {
      id: 'atomics-per-allocation',
      title: 'Atomics per allocation vs. active lanes per warp',
      kind: 'line',
      scheduling: true,
      x: activeAxis,
      y: { label: 'atomics per allocation' },
      series: runs.map((r) => ({ label: designLabel(r), points: r.sweep.map((s): [number, number] => [s.active, ratio(s.atomics, s.served)]) })),
    },
    {
      id: 'sectors-vs-ideal',
      title: `Sectors per ${STAMP_STORE_BYTES}-byte stamp store ÷ the ideal, vs. active lanes, per design`,
      kind: 'line',
      scheduling: true,
      x: activeAxis,
      y: { label: 'sectors ÷ ideal (1 = packed)' },
      series: sectorSeries,
      note: `${STORE_NOTE} 1 means the design's stores touch no more ${SECTOR_BYTES}-byte sectors than packed, aligned objects would.`,
    },
  ];
  const best = runs.reduce((a, b) => (ratio(a.allocAtomics, a.served) <= ratio(b.allocAtomics, b.served) ? a : b), runs[0] as DesignRun);
  const worstStore = Math.max(...runs.map((r) => ratio(r.stores.warp.sectorsPerStore, r.stores.warp.idealPerStore)));
  const answer =
    `${best.design} issues the fewest atomics per allocation (${ratio(best.allocAtomics, best.served).toFixed(3)}` +
    `${perLane !== undefined && perLane !== best ? `, ${ratio(ratio(perLane.allocAtomics, perLane.served), ratio(best.allocAtomics, best.served)).toFixed(1)}× fewer than per-lane` : ''}); ` +
    `stores touch at most ${worstStore.toFixed(2)}× the ideal sectors (on ${setup.adapter}).`;
  return { answer, summary, tables: [adapter, stream, measured, sweepTable, timing], plots };
}
