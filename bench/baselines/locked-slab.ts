/**
 * One slab shared by every worker behind one global lock: a free list of object indices in a
 * SharedArrayBuffer, every alloc and free inside lock/unlock. The lock is kmem's own LockWord (a
 * futex-style mutex on Atomics), so the comparison isolates the cost of sharing one structure.
 */
import { LockWord } from '../../src/sync/lock-word.ts';

/** Words: [0] lock, [1] head, [2 …] next index of each object. */
export function lockedSlabBytes(count: number): number {
  return (count + 2) * 4;
}

export class LockedSlab {
  private readonly words: Int32Array;
  private readonly lock: LockWord;

  constructor(
    buffer: SharedArrayBuffer,
    readonly count: number,
    readonly sizeBytes: number,
  ) {
    this.words = new Int32Array(buffer);
    this.lock = new LockWord(this.words, 0);
  }

  /** Lays out the free list (once, before any worker uses it). */
  format(): void {
    for (let i = 0; i < this.count; i++) this.words[2 + i] = i + 1 < this.count ? i + 1 : -1;
    this.words[1] = 0;
  }

  alloc(): number {
    this.lock.acquire();
    const i = this.words[1] as number;
    if (i >= 0) this.words[1] = this.words[2 + i] as number;
    this.lock.release();
    return i < 0 ? -1 : i * this.sizeBytes;
  }

  free(offset: number): void {
    const i = (offset / this.sizeBytes) | 0;
    this.lock.acquire();
    this.words[2 + i] = this.words[1] as number;
    this.words[1] = i;
    this.lock.release();
  }
}
