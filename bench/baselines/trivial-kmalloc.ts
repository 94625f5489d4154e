/**
 * A trivial kmalloc: six power-of-two size classes (16 … 512 bytes), each a free list threaded
 * through its free objects, pages handed to classes by a bump pointer, and a page → class table
 * so that free() needs only the address. No checks, no statistics, one thread. The baseline kmem's
 * kmalloc is compared with under churn.
 */
const PAGE_BYTES = 4096;
const CLASS_BYTES = [16, 32, 64, 128, 256, 512] as const;

export class TrivialKmalloc {
  private readonly words: Int32Array;
  /** The arena the objects live in. */
  readonly buffer: ArrayBufferLike;
  private readonly classOfPage: Uint8Array;
  private readonly heads = new Int32Array(CLASS_BYTES.length).fill(-1);
  private nextPage = 1;

  constructor(readonly sizeBytes: number) {
    this.words = new Int32Array(sizeBytes / 4);
    this.buffer = this.words.buffer;
    this.classOfPage = new Uint8Array(sizeBytes / PAGE_BYTES);
  }

  /** An object of at least `size` bytes (1 … 512), or -1 when the arena is full. */
  malloc(size: number): number {
    const cls = size <= 16 ? 0 : 32 - Math.clz32(size - 1) - 4;
    let addr = this.heads[cls] as number;
    if (addr < 0) {
      addr = this.refill(cls);
      if (addr < 0) return -1;
    }
    this.heads[cls] = this.words[addr >>> 2] as number;
    return addr;
  }

  free(addr: number): void {
    const cls = this.classOfPage[addr >>> 12] as number;
    this.words[addr >>> 2] = this.heads[cls] as number;
    this.heads[cls] = addr;
  }

  private refill(cls: number): number {
    if ((this.nextPage + 1) * PAGE_BYTES > this.sizeBytes) return -1;
    const page = this.nextPage++;
    this.classOfPage[page] = cls;
    const size = CLASS_BYTES[cls] as number;
    const base = page * PAGE_BYTES;
    for (let off = 0; off < PAGE_BYTES; off += size) {
      this.words[(base + off) >>> 2] = off + size < PAGE_BYTES ? base + off + size : -1;
    }
    this.heads[cls] = base;
    return base;
  }
}
