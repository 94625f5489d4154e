/**
 * The device arena: GPU memory as the warp allocators see it. Every structure is a storage buffer
 * of u32 words, and an object's address is the index of its first word in the arena buffer (byte
 * address = 4 · address), so addresses are plain u32 and fit a register.
 *
 *   arena     pages × slabWords words. A page is one slab: objectsPerSlab objects of objectWords
 *             words each, object `slot` of page `p` at p·slabWords + slot·objectWords.
 *   pool      the page pool: the pages the allocator may carve into slabs, in the order it takes
 *             them (`state[PoolNext]` counts pages taken). Pages not in the pool are never handed out.
 *   ring      designs 1 and 2: freed objects, a ring of addresses between state[Head] and state[Tail].
 *             Fresh objects come from a bump pointer, state[Fresh], through the pool's pages in
 *             order: fresh object f lies in page pool[f / objectsPerSlab], slot f mod objectsPerSlab.
 *   bitmaps   design 3: one bit per object, bitmapWordsPerSlab words per page, indexed by page.
 *   state     the allocator's counters (StateWord).
 *   requests  per lane, requestStride words: [count | LANE_INACTIVE, address 0 … address K-1]
 *             (addresses are read by frees only).
 *   results   per lane, resultStride words: [object 0 … object K-1, atomics issued, group key] (a free
 *             pass writes the last two). The host reads the key of active lanes only: an inactive
 *             lane runs with its group, asking for nothing, but joins no aggregation.
 *
 * Invariants: slabWords = objectsPerSlab · objectWords; objectsPerSlab is a multiple of 32 (whole
 * bitmap words); ringEntries is a power of two ≥ the pool's objects, so ring positions may wrap
 * around 2^32; NO_OBJECT is never an object address (the arena is < 16 GiB).
 */
import { GpuConfigError } from './errors.ts';

/** "No object": what a lane gets for an allocation the arena could not serve. */
export const NO_OBJECT = 0xffffffff;
/** In a request word: the lane asks for nothing (an inactive lane of its warp; it stays for the group operations). */
export const LANE_INACTIVE = 0x80000000;
export const LANE_COUNT_MASK = 0xffff;

/** Words of the state buffer. */
export enum StateWord {
  /** Designs 1, 2: ring position of the oldest freed object. */
  Head = 0,
  /** Designs 1, 2: ring position one past the newest freed object. */
  Tail = 1,
  /** Designs 1, 2: fresh objects carved so far (the bump pointer). */
  Fresh = 2,
  /** Pages taken from the pool (design 3; designs 1 and 2 take them implicitly through Fresh). */
  PoolNext = 3,
  /**
   * Frees the device itself refused, 0 unless the host's check was bypassed. Every design refuses an
   * address that is not an object's first word in the arena (it takes no ring position); slab-bitmap
   * also refuses an object whose bit was already clear (a double free, or one never handed out). The
   * ring designs keep no per-object state: an already-free object goes into the ring a second time,
   * which validate() reports as "free twice over".
   */
  BadFrees = 4,
  LastBadFree = 5,
  /**
   * Design 3: 1 once a sweep saw every bitmap word full. No bit is cleared during an allocation
   * pass, so the arena stays full until the next free pass, whose settle kernel clears it.
   */
  Full = 6,
}
export const STATE_WORDS = 8;

export interface DeviceArenaOptions {
  arenaBytes: number;
  objectBytes: number;
  objectsPerSlab: number;
  /** The most objects one lane asks for in one pass (K). */
  maxObjectsPerLane: number;
  /** The pages the allocator may carve, in the order it takes them. Default: every page, ascending. */
  poolPages?: readonly number[];
}

export class DeviceArenaLayout {
  readonly objectBytes: number;
  readonly objectWords: number;
  readonly objectsPerSlab: number;
  readonly slabWords: number;
  readonly slabBytes: number;
  readonly pages: number;
  readonly arenaWords: number;
  readonly arenaBytes: number;
  readonly bitmapWordsPerSlab: number;
  readonly pool: Uint32Array;
  /** Objects in pool pages: what the allocator can hand out at once. */
  readonly capacityObjects: number;
  readonly ringEntries: number;
  readonly maxObjectsPerLane: number;
  readonly requestStride: number;
  readonly resultStride: number;
  /** 1 for each page in the pool. */
  readonly inPool: Uint8Array;

  constructor(options: DeviceArenaOptions) {
    const { arenaBytes, objectBytes, objectsPerSlab, maxObjectsPerLane } = options;
    if (!Number.isInteger(objectBytes) || objectBytes < 4 || objectBytes % 4 !== 0) {
      throw new GpuConfigError(`objectBytes ${objectBytes}: expected a positive multiple of 4`);
    }
    if (!Number.isInteger(objectsPerSlab) || objectsPerSlab < 32 || objectsPerSlab % 32 !== 0) {
      throw new GpuConfigError(`objectsPerSlab ${objectsPerSlab}: expected a positive multiple of 32 (whole bitmap words)`);
    }
    if (!Number.isInteger(maxObjectsPerLane) || maxObjectsPerLane < 1 || maxObjectsPerLane > 64) {
      throw new GpuConfigError(`maxObjectsPerLane ${maxObjectsPerLane}: expected an integer in [1, 64]`);
    }
    this.objectBytes = objectBytes;
    this.objectWords = objectBytes / 4;
    this.objectsPerSlab = objectsPerSlab;
    this.slabWords = objectsPerSlab * this.objectWords;
    this.slabBytes = this.slabWords * 4;
    if (!Number.isInteger(arenaBytes) || arenaBytes < this.slabBytes || arenaBytes % this.slabBytes !== 0 || arenaBytes > 2 ** 32) {
      throw new GpuConfigError(`arenaBytes ${arenaBytes}: expected a whole number of ${this.slabBytes}-byte slabs, at most 4 GiB`);
    }
    this.arenaBytes = arenaBytes;
    this.arenaWords = arenaBytes / 4;
    this.pages = arenaBytes / this.slabBytes;
    this.bitmapWordsPerSlab = objectsPerSlab / 32;
    this.maxObjectsPerLane = maxObjectsPerLane;
    this.requestStride = maxObjectsPerLane + 1;
    this.resultStride = maxObjectsPerLane + 2;
    const pool = options.poolPages ?? Array.from({ length: this.pages }, (_, p) => p);
    this.inPool = new Uint8Array(this.pages);
    for (const page of pool) {
      if (!Number.isInteger(page) || page < 0 || page >= this.pages) throw new GpuConfigError(`pool page ${page}: expected an integer in [0, ${this.pages})`);
      if (this.inPool[page] === 1) throw new GpuConfigError(`pool page ${page} is listed twice: expected distinct pages`);
      this.inPool[page] = 1;
    }
    if (pool.length === 0) throw new GpuConfigError('the page pool is empty: expected at least one page');
    this.pool = Uint32Array.from(pool);
    this.capacityObjects = pool.length * objectsPerSlab;
    this.ringEntries = 2 ** Math.ceil(Math.log2(this.capacityObjects));
  }

  /** The address (word index) of object `slot` of page `page`. */
  address(page: number, slot: number): number {
    return page * this.slabWords + slot * this.objectWords;
  }

  /** The object index (page · objectsPerSlab + slot) at `address`, or -1 when it is not an object's first word. */
  objectIndex(address: number): number {
    if (!Number.isInteger(address) || address < 0 || address >= this.arenaWords) return -1;
    const page = Math.floor(address / this.slabWords);
    const offset = address - page * this.slabWords;
    if (offset % this.objectWords !== 0) return -1;
    return page * this.objectsPerSlab + offset / this.objectWords;
  }

  addressOfIndex(index: number): number {
    const page = Math.floor(index / this.objectsPerSlab);
    return this.address(page, index - page * this.objectsPerSlab);
  }
}
