/**
 * struct page, as a struct of arrays indexed by pfn (Linux's mem_map / vmemmap). Each field is one
 * typed array over a memblock region, so every worker attached to the arena sees the same pages.
 *
 *   flags     u32  PageFlag bits; bits 12..14 the mobility (MigrateType) an allocated block asked for;
 *                  on a Pcp page, bits 21..31 its CPU's owner tag (pcp.ts, pcpPageFlags)
 *   order     u8   order of the free block (Buddy) or of the allocation (Allocated) it heads
 *   refcount  i32  references to the page (1 while allocated; Linux's _refcount)
 *   mapcount  i32  page-table mappings of the page (Linux's _mapcount + 1)
 *   pincount  i32  DMA pins (FOLL_PIN); Linux folds these into _refcount with a bias of 1024
 *   owner     u32  an opaque tag of who allocated the block (as page_owner records); 0 on every
 *                  free page, Buddy or Pcp
 *   next/prev i32  links of the free list holding the block, or of the subsystem that owns it
 *   head      i32  for a compound tail, the pfn of its head
 *   private   i32  owner-specific: for every page of a slab, its slab descriptor's paddr
 *   firstObject i32  for every page of a slab, the paddr of the slab's first object (SLAB's s_mem);
 *                    for an anonymous page on an LRU list, the next page's pfn (mm/swap/lru.ts)
 *
 * Bytes per page: 4 + 1 + 4 · 9 = 41 (Linux's struct page is 64).
 *
 * A plain page (PageFlag.SlowFree clear on an allocated block no slab holds) is what the order-0
 * fast paths hand out and take back without reading the other fields:
 *   SlowFree clear  ⇔  order = 0 ∧ owner = 0 ∧ refcount = 1 ∧ mapcount = 0 ∧ pincount = 0
 * The page allocator sets the bit where it marks a block allocated; whoever changes one of those
 * fields of an allocated block afterwards calls syncSlowFree (get/put_page and pins: dma/gup.ts).
 * Pages that are mapped, or referenced by reclaim and migration, carry an owner tag, so their bit
 * is set whatever their counts do.
 */
import { PAGE_FLAG_MT_MASK, PAGE_FLAG_MT_SHIFT, PageFlag } from './types.ts';
import type { ArenaHeader } from './arena-header.ts';
import type { Memblock } from './memblock.ts';
import type { Ram } from '../machine/ram.ts';

export const MEM_MAP_BYTES_PER_PAGE = 41;

const I32_FIELDS = ['refcount', 'mapcount', 'pincount', 'owner', 'next', 'prev', 'head', 'private', 'firstObject'] as const;

export class MemMap {
  readonly nrPages: number;
  readonly flags: Uint32Array;
  readonly order: Uint8Array;
  readonly refcount: Int32Array;
  readonly mapcount: Int32Array;
  readonly pincount: Int32Array;
  readonly owner: Uint32Array;
  readonly next: Int32Array;
  readonly prev: Int32Array;
  readonly head: Int32Array;
  readonly private: Int32Array;
  readonly firstObject: Int32Array;

  readonly #shared: boolean;

  private constructor(ram: Ram, paddrOf: (name: string) => number) {
    const n = ram.nrPages;
    this.nrPages = n;
    this.#shared = ram.shared;
    this.flags = ram.u32(paddrOf('mem_map.flags'), n);
    this.order = ram.u8(paddrOf('mem_map.order'), n);
    this.refcount = ram.i32(paddrOf('mem_map.refcount'), n);
    this.mapcount = ram.i32(paddrOf('mem_map.mapcount'), n);
    this.pincount = ram.i32(paddrOf('mem_map.pincount'), n);
    this.owner = ram.u32(paddrOf('mem_map.owner'), n);
    this.next = ram.i32(paddrOf('mem_map.next'), n);
    this.prev = ram.i32(paddrOf('mem_map.prev'), n);
    this.head = ram.i32(paddrOf('mem_map.head'), n);
    this.private = ram.i32(paddrOf('mem_map.private'), n);
    this.firstObject = ram.i32(paddrOf('mem_map.firstObject'), n);
  }

  /** Carves the arrays at boot. */
  static reserve(ram: Ram, memblock: Memblock): MemMap {
    const n = ram.nrPages;
    const at = new Map<string, number>();
    at.set('mem_map.flags', memblock.alloc('mem_map.flags', n * 4));
    at.set('mem_map.order', memblock.alloc('mem_map.order', n));
    for (const field of I32_FIELDS) at.set(`mem_map.${field}`, memblock.alloc(`mem_map.${field}`, n * 4));
    return new MemMap(ram, (name) => at.get(name) ?? -1);
  }

  /** Finds the arrays of a booted arena. */
  static attach(ram: Ram, header: ArenaHeader): MemMap {
    return new MemMap(ram, (name) => header.requireRegion(name).paddr);
  }

  /** Whether the allocated block at `pfn` is not plain: PageFlag.SlowFree's definition (the file comment). */
  needsSlowFree(pfn: number): boolean {
    return this.order[pfn] !== 0 || this.owner[pfn] !== 0 || this.refcount[pfn] !== 1 || this.mapcount[pfn] !== 0 || this.pincount[pfn] !== 0;
  }

  /**
   * Sets PageFlag.SlowFree of the allocated block at `pfn` before a change that makes it not plain
   * (a reference, a pin): first, so that no moment shows a referenced page as plain to the fast
   * free, even in a worker killed between the two stores.
   */
  markSlowFree(pfn: number): void {
    if (this.#shared) Atomics.or(this.flags, pfn, PageFlag.SlowFree);
    else this.flags[pfn] = (this.flags[pfn] as number) | PageFlag.SlowFree;
  }

  /**
   * Sets or clears PageFlag.SlowFree of the allocated block at `pfn` to match its fields, after a
   * reference or a pin is dropped. One atomic read-modify-write on a shared arena, where another
   * worker may change other bits of the word.
   */
  syncSlowFree(pfn: number): void {
    if (this.needsSlowFree(pfn)) {
      this.markSlowFree(pfn);
    } else if (this.#shared) {
      Atomics.and(this.flags, pfn, ~PageFlag.SlowFree);
    } else {
      this.flags[pfn] = (this.flags[pfn] as number) & ~PageFlag.SlowFree;
    }
  }

  /** The mobility (a MigrateType) an allocated block's GFP flags asked for. */
  allocMigratetype(pfn: number): number {
    return ((this.flags[pfn] ?? 0) & PAGE_FLAG_MT_MASK) >>> PAGE_FLAG_MT_SHIFT;
  }
}
