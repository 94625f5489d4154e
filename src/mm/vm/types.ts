/**
 * The map of kmem's virtual memory (mm/vm/): address spaces, VMAs, page tables, the reverse map.
 * Read this file first.
 *
 * Virtual addresses are plain numbers in [0, 2^48): x86-64 4-level paging translates bits 47..0 and
 * the upper 16 bits only sign-extend bit 47, so kmem keeps the 48-bit value and prints kernel-half
 * addresses sign-extended (0xffff8880_00000000 is stored as 0x8880_0000_0000). JavaScript numbers
 * hold 2^48 exactly; bitwise operators are never applied to a whole vaddr (they truncate to 32 bits).
 *
 *   [0, TASK_SIZE)                         user space of each mm_struct (TASK_SIZE_MAX = 2^47 − 4 KiB)
 *   [DIRECT_MAP_BASE, + RAM size)          the kernel's direct map of all RAM (page_offset_base)
 *   [VMALLOC_START, VMALLOC_END)           vmalloc: virtually contiguous, physically scattered
 *
 * Arena layout (every structure below lives in RAM; host-side classes only wrap it):
 *
 *   mm_struct            a 128-byte object of the slab cache 'mm_struct' (mm-struct.ts has its words)
 *   vm_area_struct       a 32-byte object of the slab cache 'vm_area_struct':
 *                          f64 start | f64 end | i32 flags (VM_*) | i32 mm paddr | i32 anon_vma id | i32 0
 *   the VMA index        a buddy block of i32 VMA paddrs sorted by start (vma-tree.ts); the mm holds
 *                          its pfn, order and count
 *   page tables          4 levels (PGD, PUD, PMD, PTE) of 512 8-byte entries, each table one 4 KiB
 *                          buddy page (GFP_KERNEL | __GFP_ZERO), the mm holds the PGD's pfn; the entry
 *                          format is x86-64's (machine/pte.ts)
 *   anon rmap items      16-byte objects of the slab cache 'anon_rmap_item': i32 mm | i32 next |
 *                          f64 vaddr; an anonymous page's list head is mem_map.private[pfn]
 *
 * Invariants (checked by AddressSpace.validate(), validate.ts):
 *   VMAs are page-aligned, non-empty, sorted and disjoint: start_i < end_i ≤ start_{i+1}
 *   every present leaf entry lies inside a VMA, and a writable entry only in a VM_WRITE VMA
 *   for every anonymous page p: mapcount[p] = |rmap list of p| = number of leaf entries mapping p,
 *     refcount[p] = mapcount[p] + its GUP references (pin.ts), Σ_p (refcount[p] − mapcount[p]) =
 *     the counter kmem_gup_refs; mapcount[p] = 0 only while a GUP reference holds p
 *   fork's copy-on-write (fork.ts, cow.ts): AnonExclusive(p) ⇒ mapcount[p] ≤ 1, and an entry that
 *     maps p writable ⇒ mapcount[p] = 1
 *   every rmap item (mm, vaddr) names a leaf entry of mm at vaddr that maps p
 *   mm.pageTablePages = the table pages reachable from the PGD (the PGD included)
 *   mm.rssAnonPages = Σ over leaf entries of the pages they map
 *
 * Lock order (outermost first): mm.mmap_lock (one word in the mm, held across a whole mmap/munmap/
 * mprotect/madvise/brk/fault) → the page allocator's zone locks and the slab's locks (taken inside
 * allocPages/freePages/cache.alloc/free, never held across them).
 *
 * Host-side state: AddressSpace wrappers (a view of an mm_struct's paddr), the Vm registry of live
 * mms by pid (rebuilt from the mm list on attach), and statistics counters that are also kept in the
 * arena (the vmstat words), so losing the wrappers loses nothing. An unmap's mmu_gather (mmu-gather.ts)
 * holds the pages and tables it will free after the TLB flush for the length of one call, as Linux keeps
 * it on the kernel stack; lost mid-call, those pages leak (still referenced, unmapped), never reused.
 */

/** Bits of a virtual address each paging level translates (x86-64 4-level paging). */
export const PAGE_SHIFT = 12;
export const PAGE_SIZE = 1 << PAGE_SHIFT;
export const PMD_SHIFT = 21;
/** The size a PMD entry maps: a 2 MiB huge page. */
export const PMD_SIZE = 1 << PMD_SHIFT;
export const PUD_SHIFT = 30;
export const PUD_SIZE = 2 ** PUD_SHIFT;
export const PGDIR_SHIFT = 39;
export const PGDIR_SIZE = 2 ** PGDIR_SHIFT;
export const PTRS_PER_TABLE = 512;
/** Order of a huge page: 2 MiB = 2^9 base pages (HPAGE_PMD_ORDER). */
export const HPAGE_PMD_ORDER = PMD_SHIFT - PAGE_SHIFT;
export const HPAGE_PMD_NR = 1 << HPAGE_PMD_ORDER;

/** The 48-bit virtual address space. */
export const VADDR_BITS = 48;
export const VADDR_LIMIT = 2 ** VADDR_BITS;
/** TASK_SIZE_MAX on x86-64 with 4-level paging: the top user page is left unmapped (arch/x86 processor.h). */
export const TASK_SIZE = 2 ** 47 - PAGE_SIZE;
/** vm.mmap_min_addr's common default (65536): MAP_FIXED below it is refused. */
export const MMAP_MIN_ADDR = 65536;
/** vm.max_map_count's default (DEFAULT_MAX_MAP_COUNT = 65530). */
export const DEFAULT_MAX_MAP_COUNT = 65530;
/** mmap_base's smallest gap below TASK_SIZE (arch/x86/mm/mmap.c: MIN_GAP is 128 MiB). */
export const MMAP_MIN_GAP = 128 * 1024 * 1024;
/** Where the heap starts when nothing says otherwise: the page after a small non-PIE program's data. */
export const DEFAULT_START_BRK = 0x0060_0000;

/** page_offset_base with 4-level paging and no KASLR: 0xffff888000000000, as its 48-bit value. */
export const DIRECT_MAP_BASE = 0x8880_0000_0000;
/** VMALLOC_START with 4-level paging and no KASLR: 0xffffc90000000000 (Documentation/arch/x86/x86_64/mm.rst). */
export const VMALLOC_START = 0xc900_0000_0000;
/** vmalloc space is 32 TiB with 4-level paging. */
export const VMALLOC_END = VMALLOC_START + 2 ** 45;

/** Sign-extends a 48-bit vaddr to the 64-bit value software sees, as hex (for messages and /proc). */
export function formatVaddr(vaddr: number, width = 0): string {
  if (vaddr >= 2 ** 47) return `ffff${vaddr.toString(16).padStart(12, '0')}`;
  return vaddr.toString(16).padStart(width, '0');
}

/** mmap()'s and mprotect()'s prot bits (include/uapi/asm-generic/mman-common.h). */
export const PROT = {
  NONE: 0,
  READ: 0x1,
  WRITE: 0x2,
  EXEC: 0x4,
} as const;
export const PROT_MASK = PROT.READ | PROT.WRITE | PROT.EXEC;

/** mmap()'s flags (include/uapi/linux/mman.h, asm-generic/mman-common.h, x86 values). */
export const MAP = {
  SHARED: 0x01,
  PRIVATE: 0x02,
  SHARED_VALIDATE: 0x03,
  TYPE: 0x0f,
  FIXED: 0x10,
  ANONYMOUS: 0x20,
  NORESERVE: 0x4000,
  POPULATE: 0x8000,
  FIXED_NOREPLACE: 0x100000,
} as const;

/** madvise()'s advice values (include/uapi/asm-generic/mman-common.h). */
export const MADV = {
  NORMAL: 0,
  RANDOM: 1,
  SEQUENTIAL: 2,
  WILLNEED: 3,
  DONTNEED: 4,
  DONTFORK: 10,
  DOFORK: 11,
  HUGEPAGE: 14,
  NOHUGEPAGE: 15,
  DONTDUMP: 16,
  DODUMP: 17,
  WIPEONFORK: 18,
  KEEPONFORK: 19,
  POPULATE_READ: 22,
  POPULATE_WRITE: 23,
} as const;

/** vm_area_struct flags (include/linux/mm.h), the ones kmem models, with Linux's values. */
export const VM = {
  READ: 0x1,
  WRITE: 0x2,
  EXEC: 0x4,
  SHARED: 0x8,
  MAYREAD: 0x10,
  MAYWRITE: 0x20,
  MAYEXEC: 0x40,
  SEQ_READ: 0x8000,
  LOCKED: 0x2000,
  RAND_READ: 0x10000,
  DONTCOPY: 0x20000,
  ACCOUNT: 0x100000,
  NORESERVE: 0x200000,
  WIPEONFORK: 0x2000000,
  DONTDUMP: 0x4000000,
  HUGEPAGE: 0x20000000,
  NOHUGEPAGE: 0x40000000,
} as const;
/** The access bits of vm_flags, as mmap's prot bits map onto them (calc_vm_prot_bits). */
export const VM_ACCESS_FLAGS = VM.READ | VM.WRITE | VM.EXEC;

/** What a fault or an access asked for. */
export type AccessKind = 'read' | 'write' | 'exec';

/** Rounds up to a page (PAGE_ALIGN). */
export function pageAlign(bytes: number): number {
  return Math.ceil(bytes / PAGE_SIZE) * PAGE_SIZE;
}

export function isPageAligned(vaddr: number): boolean {
  return vaddr % PAGE_SIZE === 0;
}
