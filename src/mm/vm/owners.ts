/**
 * page_owner tags (mem_map.owner) of the pages virtual memory allocates, so that validate() can find
 * every anonymous page and page table by scanning struct page. Distinct from the slab's tags
 * (0x3ab…, 0x3ac…; slab/types.ts) and below 2^30 so V8 keeps them small integers.
 */
export const VM_OWNER_BASE = 0x3ad00000;
/** An anonymous 4 KiB page mapped into user space. */
export const VM_OWNER_ANON = VM_OWNER_BASE + 1;
/** A page-table page (any level, any mm, the kernel's included). */
export const VM_OWNER_PGTABLE = VM_OWNER_BASE + 2;
/** The block holding an mm's sorted VMA index. */
export const VM_OWNER_VMA_INDEX = VM_OWNER_BASE + 3;
/** The page holding virtual memory's globals (settings, counters, the list of mms). */
export const VM_OWNER_ROOT = VM_OWNER_BASE + 4;
/** A page backing a vmalloc area. */
export const VM_OWNER_VMALLOC = VM_OWNER_BASE + 5;
/** An anonymous 2 MiB transparent huge page (order 9, compound). */
export const VM_OWNER_ANON_THP = VM_OWNER_BASE + 6;
/** The KFENCE pool (mm/secret/kfence.ts): one block, metadata page, guard and object pages. */
export const VM_OWNER_KFENCE = VM_OWNER_BASE + 7;
