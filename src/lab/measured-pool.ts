/**
 * @thi.ng/malloc's MemPool, the JavaScript ecosystem's general-purpose allocator over an
 * ArrayBuffer, with what the library keeps protected made readable: each block's size and the pool's
 * high-water mark. Scenarios use it as the "general allocator" design beside kmem's.
 *
 * @thi.ng/malloc is an optional dependency (util/optional-module.ts): where it is missing, only the
 * comparisons that construct a MeasuredPool fail, with a typed error naming the package.
 */
import type { MemPool, MemPoolOpts } from '@thi.ng/malloc';
import { OptionalModule } from '../util/optional-module.ts';

const malloc = await OptionalModule.load('@thi.ng/malloc', () => import('@thi.ng/malloc'));

/** @thi.ng/malloc's block header: size and next, one u32 each, before the data. */
const MEMPOOL_BLOCK_HEADER_BYTES = 8;

/** The MemPool members the library keeps protected, read here (pool.d.ts: blockSize(), top). */
type MemPoolInternals = MemPool & { blockSize(block: number): number; readonly top: number };

export class MeasuredPool {
  readonly #pool: MemPoolInternals;

  constructor(opts: Partial<MemPoolOpts>) {
    const { MemPool } = malloc.get('the general-purpose allocator (MemPool) comparison');
    this.#pool = new MemPool(opts) as MemPoolInternals;
  }

  /** MemPool.malloc: the address of a block of at least `bytes`, 0 when the pool is full. */
  malloc(bytes: number): number {
    return this.#pool.malloc(bytes);
  }

  /** MemPool.free: whether `addr` was a live block. */
  free(addr: number): boolean {
    return this.#pool.free(addr);
  }

  /** Bytes of the block holding `addr`, its 8-byte header (size, next) included. */
  blockBytes(addr: number): number {
    return this.#pool.blockSize(addr - MEMPOOL_BLOCK_HEADER_BYTES);
  }

  /**
   * The pool's top now: the end of its highest block. It falls when that block is freed, so a
   * footprint is the largest value seen over a run.
   */
  get highWater(): number {
    return this.#pool.top;
  }
}
