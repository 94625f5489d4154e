/**
 * @thi.ng/malloc's MemPool, the JavaScript ecosystem's general-purpose allocator over an
 * ArrayBuffer, with what the library keeps protected made readable: each block's size and the pool's
 * high-water mark. Scenarios use it as the "general allocator" design beside kmem's.
 */
import { MemPool } from '@thi.ng/malloc';

/** @thi.ng/malloc's block header: size and next, one u32 each, before the data. */
const MEMPOOL_BLOCK_HEADER_BYTES = 8;

export class MeasuredPool extends MemPool {
  /** Bytes of the block holding `addr`, its 8-byte header (size, next) included. */
  blockBytes(addr: number): number {
    return this.blockSize(addr - MEMPOOL_BLOCK_HEADER_BYTES);
  }

  /**
   * The pool's top now: the end of its highest block. It falls when that block is freed, so a
   * footprint is the largest value seen over a run.
   */
  get highWater(): number {
    return this.top;
  }
}
