/**
 * Secret memory (mm/secret/): memfd_secret-style regions, sensitivity tags on ordinary memory, and a
 * KFENCE-like sampled guarded pool. Read this file first.
 *
 * Where the state lives (all of it in the arena; nothing here keeps a host-side registry):
 *
 *   a secret region      three VMAs of the owner's mm: a PROT_NONE guard page, the region
 *                          (VM_READ | VM_WRITE | VM_LOCKED | VM_DONTDUMP | VM_NOHUGEPAGE), a PROT_NONE
 *                          guard page; its pages are anonymous order-0 pages, populated at allocation
 *   struct page tags     PageFlag.Sensitive | NoSave | NoDump | Mlocked on every page of a region
 *                          (mm/types.ts), read by swap, hibernation and crash dumps
 *   the direct map       a region's frames have no present entry in init_mm's direct map: the 2 MiB
 *                          entry covering them is split into a table of 4 KiB entries (as Linux's
 *                          set_direct_map_invalid_noflush splits a large page), and theirs is cleared
 *
 * Invariants (validateSecrets, run by Vm.validate):
 *   a frame's direct-map entry is absent ⇒ it is tagged with all four SECRET_PAGE_TAGS and is an
 *     allocated anonymous page mapped once (secretAlloc keeps ⇐ for its own frames)
 *   a free frame carries no tag (the page allocator clears them; page-alloc-validate checks it)
 *
 * Lifetime: a Sensitive page is wiped when its last mapping goes (rmapRemove calls
 * releaseSensitivePage before freePages, as secretmem's free_folio does): its direct-map entry comes
 * back, its bytes become zero, its tags are cleared, then the buddy allocator gets it. That covers
 * secretFree, munmap, MADV_DONTNEED and the exit of the owner alike.
 *
 * Locking: direct-map changes take the Vm root lock (the kernel tables' lock); the region's VMAs
 * change under the owner's mmap_lock (inside mmap/mprotect/madvise/munmap).
 */
import { PageFlag } from '../types.ts';

/** The tags on every page of a secret region (memfd_secret: unmapped, locked, never saved or dumped). */
export const SECRET_PAGE_TAGS = PageFlag.Sensitive | PageFlag.NoSave | PageFlag.NoDump | PageFlag.Mlocked;

/** A region secretAlloc made. */
export interface SecretRegion {
  /** The first byte of the object: right-aligned to the trailing guard page, so an overflow of one byte faults. */
  readonly addr: number;
  /** The object's size as asked for. */
  readonly sizeBytes: number;
  /** The first page of the region (after the leading guard page). */
  readonly start: number;
  /** Pages of the region, guard pages not counted. */
  readonly nrPages: number;
}

export interface SecretStats {
  /** Frames tagged Sensitive. */
  sensitivePages: number;
  /** Frames whose direct-map entry is absent. */
  directMapHoles: number;
  /** 2 MiB direct-map entries split into 4 KiB tables so far (they are never merged back). */
  directMapSplits: number;
}
