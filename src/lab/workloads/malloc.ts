/**
 * User-space malloc models over the kernel's mmap, munmap, madvise and brk — the seed's "misaligned
 * malloc" made concrete. Both serve the large allocations the thp-tlb scenario makes; small ones are
 * carved from a heap region.
 *
 * GlibcMalloc (glibc malloc/malloc.c, documented behaviour):
 *   - a request of at least M_MMAP_THRESHOLD (128 KiB, the default) gets its own mmap of the request
 *     plus the 16-byte chunk header (prev_size and size on 64-bit), rounded up to pages; the pointer
 *     handed back is 16 bytes past the mapping's start, so even an aligned mapping gives a
 *     misaligned pointer, and a mapping whose length is not a multiple of 2 MiB is not THP-aligned
 *     under Linux 6.12's policy;
 *   - smaller requests come from the brk heap: 16-byte aligned chunks with the same 16-byte header,
 *     freed chunks reused first-fit by size (a simplification of glibc's bins);
 *   - glibc.malloc.hugetlb=1 (glibc 2.35) adds madvise(MADV_HUGEPAGE) on each mmapped chunk and on
 *     heap growth, which matters under THP enabled=madvise.
 *
 * HugepageAwareMalloc (TCMalloc's Temeraire idea, Hunter et al., OSDI 2021): large requests are
 * rounded up to whole 2 MiB pages and placed 2 MiB-aligned (mmap with 2 MiB of slack, the slack
 * unmapped again), with MADV_HUGEPAGE; metadata lives outside the allocation (TCMalloc's pagemap), so
 * the pointer is the aligned start. Small requests are packed into 2 MiB-aligned regions, filled
 * before a new one is taken.
 */
import type { AddressSpace } from '../../mm/vm/mm-struct.ts';
import { MADV, MAP, PMD_SIZE, PROT } from '../../mm/vm/types.ts';
import { ArgumentError, KmemError } from '../../util/errors.ts';

export const MMAP_THRESHOLD_BYTES = 128 * 1024;
export const CHUNK_HEADER_BYTES = 16;
const PAGE = 4096;
const ANON = MAP.PRIVATE | MAP.ANONYMOUS;
const RW = PROT.READ | PROT.WRITE;

export interface UserMalloc {
  readonly name: string;
  malloc(sizeBytes: number): number;
  free(ptr: number): void;
}

function roundUp(value: number, unit: number): number {
  return Math.ceil(value / unit) * unit;
}

export class GlibcMalloc implements UserMalloc {
  readonly name: string;
  private readonly mapped = new Map<number, { base: number; length: number }>();
  private readonly heapChunks = new Map<number, number>();
  private readonly freeChunks: { ptr: number; size: number }[] = [];
  private top: number;

  constructor(
    readonly mm: AddressSpace,
    readonly hugetlb: boolean = false,
  ) {
    this.name = hugetlb ? 'glibc malloc (hugetlb=1)' : 'glibc malloc';
    this.top = mm.brk(0);
  }

  malloc(sizeBytes: number): number {
    if (sizeBytes >= MMAP_THRESHOLD_BYTES) {
      const length = roundUp(sizeBytes + CHUNK_HEADER_BYTES, PAGE);
      const base = this.mm.mmap(0, length, RW, ANON);
      if (this.hugetlb) this.mm.madvise(base, length, MADV.HUGEPAGE);
      const ptr = base + CHUNK_HEADER_BYTES;
      this.mapped.set(ptr, { base, length });
      return ptr;
    }
    const size = roundUp(sizeBytes + CHUNK_HEADER_BYTES, 16);
    const reuse = this.freeChunks.findIndex((c) => c.size >= size);
    if (reuse >= 0) {
      const chunk = this.freeChunks.splice(reuse, 1)[0] as { ptr: number; size: number };
      this.heapChunks.set(chunk.ptr, chunk.size);
      return chunk.ptr;
    }
    const chunk = roundUp(this.top, 16);
    const end = chunk + size;
    if (end > this.mm.brkEnd) {
      const old = this.mm.brkEnd;
      if (this.mm.brk(roundUp(end, 128 * 1024)) === old) throw new KmemError(`malloc(${size}): brk refused to grow the heap to 0x${end.toString(16)}; expected the address space to have room for it`);
      if (this.hugetlb) this.mm.madvise(roundUp(old, PAGE), roundUp(this.mm.brkEnd, PAGE) - roundUp(old, PAGE), MADV.HUGEPAGE);
    }
    this.top = end;
    const ptr = chunk + CHUNK_HEADER_BYTES;
    this.heapChunks.set(ptr, size);
    return ptr;
  }

  free(ptr: number): void {
    const mapping = this.mapped.get(ptr);
    if (mapping !== undefined) {
      this.mm.munmap(mapping.base, mapping.length);
      this.mapped.delete(ptr);
      return;
    }
    const size = this.heapChunks.get(ptr);
    if (size === undefined) throw new ArgumentError(`free(0x${ptr.toString(16)}): not a pointer this malloc returned; expected the address of a live allocation`);
    this.heapChunks.delete(ptr);
    this.freeChunks.push({ ptr, size });
  }
}

export class HugepageAwareMalloc implements UserMalloc {
  readonly name = 'hugepage-aware malloc';
  private readonly large = new Map<number, number>();
  /** The 2 MiB regions small objects are packed into, by start address. */
  private readonly smallRegions = new Set<number>();
  private regionEnd = 0;
  private cursor = 0;

  constructor(readonly mm: AddressSpace) {}

  /** A 2 MiB-aligned range of `length` (a multiple of 2 MiB), THP-advised. */
  private alignedRegion(length: number): number {
    const raw = this.mm.mmap(0, length + PMD_SIZE, RW, ANON);
    const start = roundUp(raw, PMD_SIZE);
    if (start > raw) this.mm.munmap(raw, start - raw);
    if (raw + PMD_SIZE > start) this.mm.munmap(start + length, raw + PMD_SIZE - start);
    this.mm.madvise(start, length, MADV.HUGEPAGE);
    return start;
  }

  malloc(sizeBytes: number): number {
    if (sizeBytes >= MMAP_THRESHOLD_BYTES) {
      const length = roundUp(sizeBytes, PMD_SIZE);
      const start = this.alignedRegion(length);
      this.large.set(start, length);
      return start;
    }
    const size = roundUp(sizeBytes, 16);
    if (this.cursor + size > this.regionEnd) {
      this.cursor = this.alignedRegion(PMD_SIZE);
      this.regionEnd = this.cursor + PMD_SIZE;
      this.smallRegions.add(this.cursor);
    }
    const ptr = this.cursor;
    this.cursor += size;
    return ptr;
  }

  free(ptr: number): void {
    const length = this.large.get(ptr);
    if (length === undefined) {
      // A small object stays in its hugepage region (no reuse modelled); anything else is misuse.
      if (!this.smallRegions.has(Math.floor(ptr / PMD_SIZE) * PMD_SIZE) || ptr % 16 !== 0) {
        throw new ArgumentError(`free(0x${ptr.toString(16)}): not a pointer this malloc returned; expected the address of a live allocation`);
      }
      return;
    }
    this.mm.munmap(ptr, length);
    this.large.delete(ptr);
  }
}
