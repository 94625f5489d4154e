/**
 * struct page, as a struct of arrays indexed by pfn (Linux's mem_map / vmemmap). Each field is one
 * typed array over a memblock region, so every worker attached to the arena sees the same pages.
 *
 *   flags     u32  PageFlag bits; bits 12..14 the mobility (MigrateType) an allocated block asked for
 *   order     u8   order of the free block (Buddy) or of the allocation (Allocated) it heads
 *   refcount  i32  references to the page (1 while allocated; Linux's _refcount)
 *   mapcount  i32  page-table mappings of the page (Linux's _mapcount + 1)
 *   pincount  i32  DMA pins (FOLL_PIN); Linux folds these into _refcount with a bias of 1024
 *   owner     u32  an opaque tag of who allocated the block (as page_owner records)
 *   next/prev i32  links of the free list holding the block, or of the subsystem that owns it
 *   head      i32  for a compound tail, the pfn of its head
 *   private   i32  owner-specific: for every page of a slab, its slab descriptor's paddr
 *   firstObject i32  for every page of a slab, the paddr of the slab's first object (SLAB's s_mem);
 *                    for an anonymous page on an LRU list, the next page's pfn (mm/swap/lru.ts)
 *
 * Bytes per page: 4 + 1 + 4 · 9 = 41 (Linux's struct page is 64).
 */
import { PAGE_FLAG_MT_MASK, PAGE_FLAG_MT_SHIFT } from './types.ts';
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

  private constructor(ram: Ram, paddrOf: (name: string) => number) {
    const n = ram.nrPages;
    this.nrPages = n;
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

  /** The mobility (a MigrateType) an allocated block's GFP flags asked for. */
  allocMigratetype(pfn: number): number {
    return ((this.flags[pfn] ?? 0) & PAGE_FLAG_MT_MASK) >>> PAGE_FLAG_MT_SHIFT;
  }
}
