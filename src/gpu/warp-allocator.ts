/**
 * A warp allocator on the accelerator: one design's WGSL program over one device arena
 * (arena-layout.ts), driven from the host a pass at a time. `allocate(requests)` runs one
 * invocation per lane, each asking for 0..K objects (or inactive); `free(addresses)` runs one per
 * lane, each freeing up to K. Every pass is followed by the settle kernel, in the same submission.
 *
 * The host keeps a shadow of which objects are live and checks every pass against it, from what the
 * device wrote: every object handed out is an object of a pool page, inside the arena; none is handed
 * to two lanes or is still live from an earlier pass; each carries the stamp of the lane that got it
 * (so no other lane wrote over it); a lane that got NO_OBJECT did so only when the device had no free
 * object left; a lane got nothing it did not ask for. `validate()` reads the device's free
 * structures back and checks that every object of the pool is exactly one of live (in the shadow)
 * or free (in the ring or bump range, or a clear bitmap bit): nothing served is lost, nothing freed
 * is missing; with checkPasses (the default) every pass ends with the same check on the structures
 * it read back. A free of anything that is not a live object is refused before it reaches the device.
 */
import type { Accelerator, PassTimer } from '../machine/accelerator.ts';
import { mix32 } from '../util/prng.ts';
import { DeviceArenaLayout, LANE_COUNT_MASK, LANE_INACTIVE, NO_OBJECT, STATE_WORDS, StateWord } from './arena-layout.ts';
import type { DeviceArenaOptions } from './arena-layout.ts';
import { DESIGNS } from './designs.ts';
import type { WarpDesign } from './designs.ts';
import { DeviceArenaError, DeviceFreeError, GpuConfigError, GpuRequestError } from './errors.ts';
import { stampOf } from './stamp.ts';
import type { AggregationPath } from './wgsl/group-ops.ts';
import { ENTRY_POINTS, PROGRAM_BINDINGS, buildProgram } from './wgsl/program.ts';

export interface WarpAllocatorOptions extends DeviceArenaOptions {
  design: WarpDesign;
  /** The most lanes one pass may have. */
  maxLanes: number;
  /** 'auto' (default): aggregate over subgroups when the device has them, else over workgroups. */
  aggregation?: 'auto' | 'workgroup';
  workgroupSize?: number;
  /** slab-bitmap: pseudo-random probes among carved slabs before taking a new page. Default 4. */
  slabProbes?: number;
  /**
   * Read the arena and free structures back after every pass and check them: the pass against the
   * shadow, then everything validate() checks. Default true.
   */
  checkPasses?: boolean;
}

/** In AllocPass.groupKeys and FreePass.groupKeys: an inactive lane, which joined no group. */
export const NO_GROUP = 0xffffffff;

/** A request word: `count` objects, or an inactive lane (it asks for nothing). */
export function laneRequest(count: number, active = true): number {
  return active ? count & LANE_COUNT_MASK : LANE_INACTIVE;
}

/** The objects a request word (laneRequest) asks for: 0 for an inactive lane. */
export function laneCount(word: number): number {
  return (word & LANE_INACTIVE) !== 0 ? 0 : word & LANE_COUNT_MASK;
}

export interface AllocPass {
  lanes: number;
  requested: number;
  served: number;
  outOfMemory: number;
  /** Served objects that had been handed out (and freed) before. */
  reused: number;
  /** Atomic read-modify-writes on the allocator's shared state, as the lanes counted them. */
  atomics: number;
  /** lanes × K object addresses, NO_OBJECT where a slot got none. */
  objects: Uint32Array;
  /**
   * Per lane, the key of the group it ran in, as the lane recorded it: the subgroup (on the workgroup
   * path, the workgroup); NO_GROUP for an inactive lane.
   */
  groupKeys: Uint32Array;
  /** The allocation kernel's time from device timestamps, or null without them. */
  kernelNs: number | null;
  /** Host wall clock around submit → done (both kernels, submission overhead). */
  wallNs: number;
}

export interface FreePass {
  lanes: number;
  freed: number;
  atomics: number;
  /** Per lane, the key of the group it ran in, as in AllocPass; NO_GROUP for a lane that freed nothing (inactive). */
  groupKeys: Uint32Array;
  kernelNs: number | null;
  wallNs: number;
}

export interface WarpAllocatorStats {
  design: WarpDesign;
  path: AggregationPath;
  allocPasses: number;
  requested: number;
  served: number;
  outOfMemory: number;
  reused: number;
  freed: number;
  live: number;
  allocAtomics: number;
  freeAtomics: number;
}

/** The device's free structures, read back. */
interface DeviceSnapshot {
  state: Uint32Array;
  ring: Uint32Array | null;
  bitmaps: Uint32Array | null;
}

export const DEFAULT_WORKGROUP_SIZE = 64;

/**
 * The most lanes one pass can have on `device`: a pass is one 1-D dispatch of `workgroupSize`-lane
 * workgroups, and a dispatch dimension holds at most maxComputeWorkgroupsPerDimension of them
 * (WebGPU's default, 65535, gives 4,194,240 lanes of 64: 64 short of 2^22).
 */
export function maxDispatchLanes(device: Pick<Accelerator, 'maxWorkgroupsPerDimension'>, workgroupSize = DEFAULT_WORKGROUP_SIZE): number {
  return workgroupSize * device.maxWorkgroupsPerDimension;
}

export class WarpSlabAllocator {
  readonly design: WarpDesign;
  readonly path: AggregationPath;
  readonly layout: DeviceArenaLayout;
  readonly workgroupSize: number;
  readonly maxLanes: number;
  /**
   * The hardware subgroup size, null if unknown. `subgroupSizeSource` says how it is known:
   * 'measured' with the subgroup_size builtin on a pipeline of this workgroup size (whenever the
   * device has subgroups, on either path), or 'assumed': the adapter's reported minimum, on a device
   * opened without subgroups.
   */
  readonly subgroupSize: number | null;
  readonly subgroupSizeSource: 'measured' | 'assumed' | null;
  /**
   * Lanes of a hardware warp, on either path: the subgroup size (subgroupSizeSource says how it is
   * known), or the workgroup size where the adapter reports none.
   */
  readonly warpLanes: number;
  /** Lanes of the group an allocation aggregates over: the warp (subgroup), or the workgroup on the fallback path. */
  readonly groupLanes: number;
  readonly checkPasses: boolean;
  private readonly live: Uint8Array;
  private readonly everUsed: Uint8Array;
  private readonly owner: Int32Array;
  /**
   * The device buffers (arena-layout.ts): bind `arena` in your own kernels to use the objects. Writing
   * the allocator's own structures behind its back is what validate() exists to catch.
   */
  readonly buffers: Readonly<Record<'params' | 'arena' | 'state' | 'ring' | 'pool' | 'bitmaps' | 'requests' | 'results', GPUBuffer>>;
  private readonly bindGroup: GPUBindGroup;
  private readonly timer: PassTimer | null;
  private counters: Omit<WarpAllocatorStats, 'design' | 'path' | 'live'>;
  private liveCount = 0;

  private constructor(
    private readonly accelerator: Accelerator,
    options: WarpAllocatorOptions,
    layout: DeviceArenaLayout,
    path: AggregationPath,
    subgroupSize: number | null,
    subgroupSizeSource: 'measured' | 'assumed' | null,
    private readonly pipelines: Map<string, GPUComputePipeline>,
    bindLayout: GPUBindGroupLayout,
  ) {
    this.design = options.design;
    this.layout = layout;
    this.path = path;
    this.workgroupSize = options.workgroupSize ?? DEFAULT_WORKGROUP_SIZE;
    this.maxLanes = options.maxLanes;
    this.subgroupSize = subgroupSize;
    this.subgroupSizeSource = subgroupSizeSource;
    this.warpLanes = subgroupSize ?? this.workgroupSize;
    this.groupLanes = path === 'subgroup' ? this.warpLanes : this.workgroupSize;
    this.checkPasses = options.checkPasses ?? true;
    const objects = layout.pages * layout.objectsPerSlab;
    this.live = new Uint8Array(objects);
    this.everUsed = new Uint8Array(objects);
    this.owner = new Int32Array(objects).fill(-1);
    const u = accelerator.usage;
    const storage = u.STORAGE | u.COPY_DST | u.COPY_SRC;
    const name = `warp-${this.design}`;
    this.buffers = {
      params: accelerator.createBuffer(`${name}:params`, 16, u.UNIFORM | u.COPY_DST),
      arena: accelerator.createBuffer(`${name}:arena`, layout.arenaBytes, storage),
      state: accelerator.createBuffer(`${name}:state`, STATE_WORDS * 4, storage),
      ring: accelerator.createBuffer(`${name}:ring`, DESIGNS[this.design].freeStore === 'ring' ? layout.ringEntries * 4 : 4, storage),
      pool: accelerator.createBuffer(`${name}:pool`, layout.pool.byteLength, storage),
      bitmaps: accelerator.createBuffer(`${name}:bitmaps`, DESIGNS[this.design].freeStore === 'bitmap' ? layout.pages * layout.bitmapWordsPerSlab * 4 : 4, storage),
      requests: accelerator.createBuffer(`${name}:requests`, this.maxLanes * layout.requestStride * 4, storage),
      results: accelerator.createBuffer(`${name}:results`, this.maxLanes * layout.resultStride * 4, storage),
    };
    const b = this.buffers;
    this.bindGroup = accelerator.bindGroup(name, bindLayout, [b.params, b.arena, b.state, b.ring, b.pool, b.bitmaps, b.requests, b.results]);
    accelerator.write(b.pool, layout.pool);
    this.timer = accelerator.passTimer();
    this.counters = WarpSlabAllocator.zeroCounters();
  }

  /** Compiles the design for `accelerator` and makes an empty arena. */
  static async create(accelerator: Accelerator, options: WarpAllocatorOptions): Promise<WarpSlabAllocator> {
    const layout = new DeviceArenaLayout(options);
    const workgroupSize = options.workgroupSize ?? DEFAULT_WORKGROUP_SIZE;
    if (!Number.isInteger(workgroupSize) || workgroupSize < 1 || workgroupSize > 256) {
      throw new GpuConfigError(`workgroupSize ${workgroupSize}: expected an integer in [1, 256]`);
    }
    const maxLanes = maxDispatchLanes(accelerator, workgroupSize);
    if (!Number.isInteger(options.maxLanes) || options.maxLanes < 1 || options.maxLanes > maxLanes) {
      throw new GpuConfigError(
        `maxLanes ${options.maxLanes}: expected an integer in [1, ${maxLanes}] (one dispatch of at most ${accelerator.maxWorkgroupsPerDimension} workgroups of ${workgroupSize} lanes on ${accelerator.adapterName})`,
      );
    }
    const biggest = Math.max(layout.arenaBytes, layout.ringEntries * 4, options.maxLanes * layout.resultStride * 4);
    if (biggest > accelerator.maxStorageBindingBytes) {
      throw new GpuConfigError(`a buffer of ${biggest} bytes exceeds ${accelerator.adapterName}'s storage binding limit of ${accelerator.maxStorageBindingBytes} bytes`);
    }
    const path: AggregationPath = options.aggregation === 'workgroup' || !accelerator.subgroups ? 'workgroup' : 'subgroup';
    const measured = await accelerator.measureSubgroupSize(workgroupSize);
    const subgroupSize = measured ?? accelerator.adapterSubgroupSize;
    const subgroupSizeSource = measured !== null ? 'measured' : subgroupSize !== null ? 'assumed' : null;
    if (subgroupSize !== null && workgroupSize % subgroupSize !== 0) {
      throw new GpuConfigError(
        `workgroupSize ${workgroupSize}: expected a multiple of the subgroup size, ${subgroupSize} (${subgroupSizeSource === 'measured' ? 'measured' : "assumed: the adapter's minimum"}) on ${accelerator.adapterName}, so that every subgroup is whole`,
      );
    }
    const code = buildProgram({ design: options.design, layout, path, workgroupSize, slabProbes: options.slabProbes ?? 4 });
    const bindLayout = accelerator.bindGroupLayout(`warp-${options.design}`, PROGRAM_BINDINGS);
    const pipelines = await accelerator.computePipelines(`warp-${options.design} (${path} path)`, code, bindLayout, ENTRY_POINTS);
    const allocator = new WarpSlabAllocator(accelerator, options, layout, path, subgroupSize, subgroupSizeSource, pipelines, bindLayout);
    await allocator.reset();
    return allocator;
  }

  private static zeroCounters(): Omit<WarpAllocatorStats, 'design' | 'path' | 'live'> {
    return { allocPasses: 0, requested: 0, served: 0, outOfMemory: 0, reused: 0, freed: 0, allocAtomics: 0, freeAtomics: 0 };
  }

  /** An empty arena: every pool page uncarved, nothing live. */
  async reset(): Promise<void> {
    const b = this.buffers;
    await this.accelerator.submit(`warp-${this.design} reset`, (encoder) => {
      for (const buffer of [b.arena, b.state, b.ring, b.bitmaps, b.results]) encoder.clearBuffer(buffer);
    });
    this.live.fill(0);
    this.everUsed.fill(0);
    this.owner.fill(-1);
    this.liveCount = 0;
    this.counters = WarpSlabAllocator.zeroCounters();
  }

  /**
   * Runs a small pass of every kernel and empties the arena again: some drivers (lavapipe) compile a
   * pipeline on its first dispatch, which would otherwise land in the first timed pass.
   */
  async warmUp(): Promise<void> {
    const lanes = Math.min(this.maxLanes, 32);
    await this.allocate(new Uint32Array(lanes).fill(laneRequest(1)));
    await this.free(this.liveObjects().map((address) => [address]).slice(0, this.maxLanes));
    await this.reset();
  }

  /** Runs kernel `entry` over `lanes` lanes, then the settle kernel; returns (device ns or null, wall ns). */
  private async dispatch(entry: 'alloc_main' | 'free_main', lanes: number, salt: number): Promise<{ kernelNs: number | null; wallNs: number }> {
    const main = this.pipelines.get(entry);
    const settle = this.pipelines.get('settle_main');
    if (main === undefined || settle === undefined) throw new GpuConfigError(`warp-${this.design}: pipeline ${entry} missing`);
    this.accelerator.write(this.buffers.params, Uint32Array.of(lanes, salt, entry === 'free_main' ? 1 : 0, 0));
    const timer = this.timer;
    const started = performance.now();
    await this.accelerator.submit(`warp-${this.design} ${entry}`, (encoder) => {
      const pass = encoder.beginComputePass(timer === null ? {} : { timestampWrites: timer.writes });
      pass.setPipeline(main);
      pass.setBindGroup(0, this.bindGroup);
      pass.dispatchWorkgroups(Math.ceil(lanes / this.workgroupSize));
      pass.end();
      const tidy = encoder.beginComputePass();
      tidy.setPipeline(settle);
      tidy.setBindGroup(0, this.bindGroup);
      tidy.dispatchWorkgroups(1);
      tidy.end();
      timer?.resolve(encoder);
    });
    const wallNs = (performance.now() - started) * 1e6;
    return { kernelNs: timer === null ? null : await timer.elapsedNs(), wallNs };
  }

  private writeRequests(words: Uint32Array): void {
    this.accelerator.write(this.buffers.requests, words);
  }

  /** One allocation pass: lane i asks for what `requests[i]` says (see laneRequest). */
  async allocate(requests: Uint32Array): Promise<AllocPass> {
    const { layout } = this;
    const k = layout.maxObjectsPerLane;
    const lanes = requests.length;
    this.checkLanes(lanes);
    const words = new Uint32Array(lanes * layout.requestStride);
    let requested = 0;
    for (let lane = 0; lane < lanes; lane++) {
      const word = requests[lane] ?? 0;
      const count = laneCount(word);
      if (count > k) throw new GpuRequestError(`lane ${lane} asks for ${count} objects: expected at most ${k} (maxObjectsPerLane)`);
      requested += count;
      words[lane * layout.requestStride] = word;
    }
    this.writeRequests(words);
    const salt = mix32(0x9e3779b9 ^ (this.counters.allocPasses + 1));
    const timing = await this.dispatch('alloc_main', lanes, salt);
    const results = await this.accelerator.read(this.buffers.results, lanes * layout.resultStride * 4);
    const arena = this.checkPasses ? await this.accelerator.read(this.buffers.arena, layout.arenaBytes) : null;
    const pass = this.admitObjects(requests, results, salt, arena);
    const result: AllocPass = { ...pass, lanes, requested, ...timing };
    if (this.checkPasses) {
      const free = this.validateSnapshot(await this.snapshot());
      if (result.outOfMemory > 0 && free > 0) {
        throw new DeviceArenaError(-1, `${result.outOfMemory} objects were refused (NO_OBJECT) while ${free} were free: expected NO_OBJECT only when the arena is full`);
      }
    }
    const c = this.counters;
    c.allocPasses++;
    c.requested += requested;
    c.served += result.served;
    c.outOfMemory += result.outOfMemory;
    c.reused += result.reused;
    c.allocAtomics += result.atomics;
    return result;
  }

  /** Reads the lanes' results, checks each object and makes it live in the shadow. */
  private admitObjects(requests: Uint32Array, results: Uint32Array, salt: number, arena: Uint32Array | null) {
    const { layout } = this;
    const k = layout.maxObjectsPerLane;
    const lanes = requests.length;
    const objects = new Uint32Array(lanes * k);
    const groupKeys = new Uint32Array(lanes);
    let served = 0;
    let outOfMemory = 0;
    let reused = 0;
    let atomics = 0;
    // Objects made live so far, with their everUsed bit before: a failed check puts every one back.
    const admitted: { index: number; everUsed: number }[] = [];
    try {
      for (let lane = 0; lane < lanes; lane++) {
        const word = requests[lane] ?? 0;
        const count = laneCount(word);
        const row = lane * layout.resultStride;
        atomics += results[row + k] ?? 0;
        groupKeys[lane] = (word & LANE_INACTIVE) !== 0 ? NO_GROUP : (results[row + k + 1] ?? NO_GROUP);
        for (let j = 0; j < k; j++) {
          const address = results[row + j] ?? NO_OBJECT;
          objects[lane * k + j] = address;
          if (address === NO_OBJECT) {
            if (j < count) outOfMemory++;
            continue;
          }
          if (j >= count) throw new DeviceArenaError(address, `lane ${lane} asked for ${count} objects but got one in slot ${j}`);
          const index = this.checkedIndex(address, `handed to lane ${lane}`);
          if (this.live[index] === 1) {
            throw new DeviceArenaError(address, `handed to lane ${lane} while still live (lane ${this.owner[index]} holds it): expected each object to one lane at a time`);
          }
          if (arena !== null) this.checkStamp(arena, address, stampOf(salt, lane, j, k), lane);
          admitted.push({ index, everUsed: this.everUsed[index] ?? 0 });
          this.live[index] = 1;
          this.owner[index] = lane;
          if (this.everUsed[index] === 1) reused++;
          this.everUsed[index] = 1;
          served++;
        }
      }
    } catch (error) {
      // The shadow stays as it was: each object was free (not live, no owner) before this pass.
      for (const { index, everUsed } of admitted) {
        this.live[index] = 0;
        this.owner[index] = -1;
        this.everUsed[index] = everUsed;
      }
      throw error;
    }
    this.liveCount += served;
    return { served, outOfMemory, reused, atomics, objects, groupKeys };
  }

  private checkedIndex(address: number, what: string): number {
    const index = this.layout.objectIndex(address);
    if (index < 0) throw new DeviceArenaError(address, `${what}: not the first word of an object inside the ${this.layout.arenaWords}-word arena`);
    const page = Math.floor(index / this.layout.objectsPerSlab);
    if (this.layout.inPool[page] !== 1) throw new DeviceArenaError(address, `${what}: in page ${page}, which is not in the page pool`);
    return index;
  }

  private checkStamp(arena: Uint32Array, address: number, stamp: number, lane: number): void {
    for (let w = 0; w < this.layout.objectWords; w++) {
      const found = arena[address + w];
      if (found !== stamp) {
        throw new DeviceArenaError(
          address + w,
          `lane ${lane}'s object holds 0x${(found ?? 0).toString(16)}, expected its stamp 0x${stamp.toString(16)}: another lane wrote over it, or the lane never wrote it`,
        );
      }
    }
  }

  /** One free pass: lane i frees `addresses[i]` (at most K each; an empty lane is inactive). */
  async free(addresses: readonly (readonly number[])[]): Promise<FreePass> {
    const { layout } = this;
    const k = layout.maxObjectsPerLane;
    const lanes = addresses.length;
    this.checkLanes(lanes);
    const words = new Uint32Array(lanes * layout.requestStride);
    const indices: number[] = [];
    const marked = new Set<number>();
    for (let lane = 0; lane < lanes; lane++) {
      const list = addresses[lane] ?? [];
      if (list.length > k) throw new GpuRequestError(`lane ${lane} frees ${list.length} objects: expected at most ${k} (maxObjectsPerLane)`);
      words[lane * layout.requestStride] = list.length === 0 ? LANE_INACTIVE : list.length;
      list.forEach((address, j) => {
        const index = layout.objectIndex(address);
        if (index < 0) throw new DeviceFreeError(address, lane, `not the first word of an object of the ${layout.arenaWords}-word arena`);
        if (marked.has(index)) throw new DeviceFreeError(address, lane, 'it appears twice in this free pass');
        if (this.live[index] !== 1) throw new DeviceFreeError(address, lane, this.everUsed[index] === 1 ? 'it is already free (double free)' : 'it was never allocated');
        marked.add(index);
        indices.push(index);
        words[lane * layout.requestStride + 1 + j] = address;
      });
    }
    this.writeRequests(words);
    const timing = await this.dispatch('free_main', lanes, 0);
    const results = await this.accelerator.read(this.buffers.results, lanes * layout.resultStride * 4);
    let atomics = 0;
    const groupKeys = new Uint32Array(lanes).fill(NO_GROUP);
    for (let lane = 0; lane < lanes; lane++) {
      const row = lane * layout.resultStride;
      atomics += results[row + k] ?? 0;
      if ((addresses[lane] ?? []).length > 0) groupKeys[lane] = results[row + k + 1] ?? NO_GROUP;
    }
    for (const index of indices) {
      this.live[index] = 0;
      this.owner[index] = -1;
    }
    this.liveCount -= indices.length;
    if (this.checkPasses) this.validateSnapshot(await this.snapshot());
    this.counters.freed += indices.length;
    this.counters.freeAtomics += atomics;
    return { lanes, freed: indices.length, atomics, groupKeys, ...timing };
  }

  private checkLanes(lanes: number): void {
    if (lanes < 1 || lanes > this.maxLanes) throw new GpuRequestError(`${lanes} lanes: expected 1 to ${this.maxLanes} (maxLanes)`);
  }

  private checkBadFrees(snapshot: DeviceSnapshot): void {
    const bad = snapshot.state[StateWord.BadFrees] ?? 0;
    if (bad !== 0) throw new DeviceArenaError(snapshot.state[StateWord.LastBadFree] ?? -1, `the device refused ${bad} frees: expected none (the host checks every free first)`);
  }

  private async snapshot(): Promise<DeviceSnapshot> {
    const { layout } = this;
    const store = DESIGNS[this.design].freeStore;
    return {
      state: await this.accelerator.read(this.buffers.state, STATE_WORDS * 4),
      ring: store === 'ring' ? await this.accelerator.read(this.buffers.ring, layout.ringEntries * 4) : null,
      bitmaps: store === 'bitmap' ? await this.accelerator.read(this.buffers.bitmaps, layout.pages * layout.bitmapWordsPerSlab * 4) : null,
    };
  }

  /** The objects the device holds free, from its ring and bump pointer or its bitmaps. */
  private freeObjects(snapshot: DeviceSnapshot): { free: Uint8Array; count: number } {
    const { layout } = this;
    const free = new Uint8Array(layout.pages * layout.objectsPerSlab);
    let count = 0;
    const mark = (index: number, address: number, where: string): void => {
      if (free[index] === 1) throw new DeviceArenaError(address, `free twice over (${where}): it would be handed out twice`);
      free[index] = 1;
      count++;
    };
    const { state, ring, bitmaps } = snapshot;
    if (ring !== null) {
      const head = state[StateWord.Head] ?? 0;
      const tail = state[StateWord.Tail] ?? 0;
      const fresh = state[StateWord.Fresh] ?? 0;
      const queued = (tail - head) >>> 0;
      if (queued > layout.ringEntries) throw new DeviceArenaError(-1, `free ring holds ${queued} entries (head ${head}, tail ${tail}): expected at most ${layout.ringEntries}`);
      if (fresh > layout.capacityObjects) throw new DeviceArenaError(-1, `bump pointer at ${fresh}: expected at most the pool's ${layout.capacityObjects} objects after settling`);
      for (let i = 0; i < queued; i++) {
        const address = ring[((head + i) >>> 0) & (layout.ringEntries - 1)] ?? NO_OBJECT;
        mark(this.checkedIndex(address, `in the free ring at position ${(head + i) >>> 0}`), address, 'ring');
      }
      for (let f = fresh; f < layout.capacityObjects; f++) {
        const address = layout.address(layout.pool[Math.floor(f / layout.objectsPerSlab)] ?? 0, f % layout.objectsPerSlab);
        mark(this.checkedIndex(address, 'beyond the bump pointer'), address, 'not yet carved');
      }
    } else if (bitmaps !== null) {
      const carved = state[StateWord.PoolNext] ?? 0;
      const full = (state[StateWord.Full] ?? 0) !== 0;
      if (carved > layout.pool.length) throw new DeviceArenaError(-1, `${carved} pages taken from a pool of ${layout.pool.length}`);
      for (let page = 0; page < layout.pages; page++) {
        for (let w = 0; w < layout.bitmapWordsPerSlab; w++) {
          const word = bitmaps[page * layout.bitmapWordsPerSlab + w] ?? 0;
          if (layout.inPool[page] !== 1) {
            if (word !== 0) throw new DeviceArenaError(layout.address(page, w * 32), `bitmap of page ${page}, outside the pool, is 0x${word.toString(16)}: expected 0`);
            continue;
          }
          for (let bit = 0; bit < 32; bit++) {
            if ((word & (1 << bit)) === 0) mark(page * layout.objectsPerSlab + w * 32 + bit, layout.address(page, w * 32 + bit), 'bitmap');
          }
        }
      }
      for (let ordinal = carved; ordinal < layout.pool.length; ordinal++) {
        const page = layout.pool[ordinal] ?? 0;
        for (let w = 0; w < layout.bitmapWordsPerSlab; w++) {
          if ((bitmaps[page * layout.bitmapWordsPerSlab + w] ?? 0) !== 0) throw new DeviceArenaError(layout.address(page, w * 32), `page ${page} was never taken from the pool but its bitmap has bits set`);
        }
      }
      if (full && count > 0) throw new DeviceArenaError(-1, `the arena is flagged full while ${count} objects are free: expected the flag only after a sweep found none`);
    }
    return { free, count };
  }

  /**
   * Reads the device's free structures back and checks that every object of every pool page is
   * exactly one of live or free, and that the device refused no free. Throws DeviceArenaError.
   */
  async validate(): Promise<void> {
    this.validateSnapshot(await this.snapshot());
  }

  /** validate() on free structures already read back; returns how many objects the device holds free. */
  private validateSnapshot(snapshot: DeviceSnapshot): number {
    this.checkBadFrees(snapshot);
    const { free, count } = this.freeObjects(snapshot);
    const { layout } = this;
    let live = 0;
    for (let index = 0; index < free.length; index++) {
      const address = layout.addressOfIndex(index);
      const isLive = this.live[index] === 1;
      if (isLive) live++;
      if (layout.inPool[Math.floor(index / layout.objectsPerSlab)] !== 1) {
        if (isLive) throw new DeviceArenaError(address, 'live, in a page outside the pool');
        continue;
      }
      if (isLive && free[index] === 1) throw new DeviceArenaError(address, `live (lane ${this.owner[index]} holds it) and free at once: it would be handed out twice`);
      if (!isLive && free[index] !== 1) throw new DeviceArenaError(address, 'lost: neither live nor free on the device');
    }
    if (live !== this.liveCount) throw new DeviceArenaError(-1, `${live} objects live in the shadow, counted ${this.liveCount}`);
    return count;
  }

  /** Pages taken from the pool so far, read from the device. */
  async pagesCarved(): Promise<number> {
    const state = await this.accelerator.read(this.buffers.state, STATE_WORDS * 4);
    if (DESIGNS[this.design].freeStore === 'ring') return Math.ceil((state[StateWord.Fresh] ?? 0) / this.layout.objectsPerSlab);
    return state[StateWord.PoolNext] ?? 0;
  }

  /** The addresses of the live objects, in object order. */
  liveObjects(): number[] {
    const out: number[] = [];
    for (let index = 0; index < this.live.length; index++) if (this.live[index] === 1) out.push(this.layout.addressOfIndex(index));
    return out;
  }

  stats(): WarpAllocatorStats {
    return { design: this.design, path: this.path, live: this.liveCount, ...this.counters };
  }

  destroy(): void {
    for (const buffer of Object.values(this.buffers)) buffer.destroy();
    this.timer?.destroy();
  }
}
