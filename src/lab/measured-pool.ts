/**
 * @thi.ng/malloc's MemPool, the JavaScript ecosystem's general-purpose allocator over an
 * ArrayBuffer, with what the library keeps protected made readable: each block's size and the pool's
 * high-water mark. Scenarios use it as the "general allocator" design beside kmem's.
 *
 * @thi.ng/malloc is an optional dependency (`npm install --omit=optional` leaves it out): it is
 * loaded when this module loads, and where it is missing only the comparisons that need it fail,
 * with a typed error naming the package, not every command that imports a scenario.
 */
import type { MemPool, MemPoolOpts } from '@thi.ng/malloc';
import { KmemError } from '../util/errors.ts';

/** A run needs an optional npm package that is not installed. */
export class MissingOptionalPackageError extends KmemError {
  override name = 'MissingOptionalPackageError';
  constructor(packageName: string, forWhat: string, cause: string) {
    super(`${forWhat} needs the optional package ${packageName}, which is not installed (${cause}); expected it installed: npm install without --omit=optional`);
  }
}

const malloc = await import('@thi.ng/malloc').then(
  (module) => ({ module, error: '' }),
  (error: unknown) => ({ module: null, error: error instanceof Error ? error.message.split('\n')[0] ?? '' : String(error) }),
);

/** @thi.ng/malloc's block header: size and next, one u32 each, before the data. */
const MEMPOOL_BLOCK_HEADER_BYTES = 8;

/** The MemPool members the library keeps protected, read here (pool.d.ts: blockSize(), top). */
interface MemPoolInternals {
  blockSize(block: number): number;
  readonly top: number;
}

export class MeasuredPool {
  readonly #pool: MemPool;
  readonly #internals: MemPoolInternals;

  constructor(opts: Partial<MemPoolOpts>) {
    if (malloc.module === null) throw new MissingOptionalPackageError('@thi.ng/malloc', 'the general-purpose allocator (MemPool) comparison', malloc.error);
    this.#pool = new malloc.module.MemPool(opts);
    this.#internals = this.#pool as unknown as MemPoolInternals;
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
    return this.#internals.blockSize(addr - MEMPOOL_BLOCK_HEADER_BYTES);
  }

  /**
   * The pool's top now: the end of its highest block. It falls when that block is freed, so a
   * footprint is the largest value seen over a run.
   */
  get highWater(): number {
    return this.#internals.top;
  }
}
