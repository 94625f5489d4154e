/**
 * The floor for a fixed-size allocator: a hand-written slab of `count` objects of `sizeBytes`
 * bytes in one ArrayBuffer, with an Int32Array free list (index of the next free object). No
 * checks, no statistics, one thread. What kmem's caches are measured against.
 */
export class FreeListSlab {
  private readonly next: Int32Array;
  private head = 0;

  constructor(
    readonly count: number,
    readonly sizeBytes: number,
  ) {
    this.next = new Int32Array(count);
    for (let i = 0; i < count; i++) this.next[i] = i + 1 < count ? i + 1 : -1;
  }

  /** The byte offset of a free object, or -1 when all are taken. */
  alloc(): number {
    const i = this.head;
    if (i < 0) return -1;
    this.head = this.next[i] as number;
    return i * this.sizeBytes;
  }

  free(offset: number): void {
    const i = (offset / this.sizeBytes) | 0;
    this.next[i] = this.head;
    this.head = i;
  }
}
