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

/**
 * The strong floor a user would hand-write: a stack of free slot indices in an Int32Array, the
 * address a shift of the index (objects of 2^k bytes), no division. Over `shared` memory the
 * stack lives in a SharedArrayBuffer (still one thread: the plain/shared comparison of the floor).
 */
export class SlotStackSlab {
  private readonly stack: Int32Array;
  private top: number;

  constructor(
    readonly count: number,
    readonly shift: number,
    shared = false,
  ) {
    this.stack = new Int32Array(shared ? new SharedArrayBuffer(count * 4) : new ArrayBuffer(count * 4));
    for (let i = 0; i < count; i++) this.stack[i] = count - 1 - i;
    this.top = count;
  }

  /** The byte offset of a free object, or -1 when all are taken. */
  alloc(): number {
    if (this.top === 0) return -1;
    return (this.stack[--this.top] as number) << this.shift;
  }

  free(offset: number): void {
    this.stack[this.top++] = offset >>> this.shift;
  }
}
