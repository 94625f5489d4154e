/**
 * Crash dumps (mm/dump/): what a dump file holds and which frames it leaves out.
 *
 * Page classes follow makedumpfile's `-d` dump levels (makedumpfile(8), "-d dump_level": a bit mask,
 * 1 zero pages, 2 cache pages without private data, 4 cache pages with private data, 8 user process
 * data pages, 16 free pages; 31 excludes all five), plus kmem's own class for sensitive pages, which no
 * level includes. kmem has no page cache (no files; docs/vm.md), so the two cache classes exist in
 * the format and are always empty.
 *
 * File layout (little-endian; DUMP_HEADER_BYTES of header, then three sections):
 *
 *   0   magic 'KMEMDUMP' (8 bytes)          40  per class c (PAGE_CLASS_NAMES order): u32 pages,
 *   8   u32 version (1)                          u32 excluded            (7 × 8 bytes, to 96)
 *   12  u32 page size in bytes               96  u32 included pages
 *   16  u32 nrPages                          100 u32 CRC-32 of the sections (util/crc32.ts)
 *   20  u32 dump level (0..31)               104 u32 CRC-32 of header bytes [0, 104)
 *   24  u32 sensitive policy (SensitivePolicy)
 *   28  u32 nrClasses (7)   32..40 reserved, zero
 *
 *   class map   nrPages bytes: each frame's PageClass
 *   bitmap      ceil(nrPages / 8) bytes: bit (pfn mod 8) of byte pfn/8 set = the frame is in the file
 *   pages       page-size bytes per set bit, in pfn order
 *
 * Invariants: Σ pages over classes = nrPages; Σ (pages − excluded) = included pages = bits set;
 * sensitive pages are never included unless the policy is 'zero', and then their bytes are zero.
 * Host-side only: a dump is made from a stopped kernel and holds no kernel state of its own.
 */
import { ImageFormatError } from '../image-format.ts';
import type { ImageFormat } from '../image-format.ts';

export const DUMP_MAGIC = 'KMEMDUMP';
export const DUMP_VERSION = 1;
export const DUMP_HEADER_BYTES = 108;

/** makedumpfile's dump-level bits (makedumpfile(8), option -d). */
export const DumpLevel = {
  Zero: 1,
  Cache: 2,
  CachePrivate: 4,
  User: 8,
  Free: 16,
  /** Every class makedumpfile knows excluded. */
  All: 31,
} as const;

/** What a frame is, decided from its struct page (classify.ts). */
export const PageClass = {
  /** Kernel data: memblock's reservations, slab pages, page tables, DMA buffers, ... always kept. */
  Kernel: 0,
  Zero: 1,
  /** Page cache without private data: kmem has none. */
  Cache: 2,
  /** Page cache with private data (buffers): kmem has none. */
  CachePrivate: 3,
  /** Anonymous pages mapped into a process (owner tag VM_OWNER_ANON / VM_OWNER_ANON_THP). */
  User: 4,
  /** On a buddy free list or a CPU's per-CPU list. */
  Free: 5,
  /** Tagged PageFlag.Sensitive or PageFlag.NoDump (its own page or its block's first page). */
  Sensitive: 6,
} as const;
export type PageClass = (typeof PageClass)[keyof typeof PageClass];
export const PAGE_CLASS_NAMES: readonly string[] = ['kernel', 'zero', 'cache', 'cache-private', 'user', 'free', 'sensitive'];
export const NR_PAGE_CLASSES = 7;
/** The dump-level bit that excludes each class (0: no level excludes it). */
export const CLASS_LEVEL_BIT: readonly number[] = [0, DumpLevel.Zero, DumpLevel.Cache, DumpLevel.CachePrivate, DumpLevel.User, DumpLevel.Free, 0];

/** What a dump does with sensitive pages: leave them out of the file, or write them as zeros. */
export const SensitivePolicy = { Exclude: 0, Zero: 1 } as const;
export type SensitivePolicy = (typeof SensitivePolicy)[keyof typeof SensitivePolicy];
export const SENSITIVE_POLICY_NAMES: readonly string[] = ['exclude', 'zero'];

export interface DumpClassCount {
  name: string;
  pages: number;
  excluded: number;
}

export interface DumpHeader {
  version: number;
  pageSizeBytes: number;
  nrPages: number;
  dumpLevel: number;
  sensitivePolicy: SensitivePolicy;
  classes: DumpClassCount[];
  includedPages: number;
}

/** A dump file that is not one, damaged or cut short: names the offset and what was expected there. */
export class DumpFormatError extends ImageFormatError {
  override name = 'DumpFormatError';
  constructor(offset: number, message: string) {
    super(offset, 'crash dump', message);
  }
}

export const DUMP_FORMAT: ImageFormat = {
  magic: DUMP_MAGIC,
  headerBytes: DUMP_HEADER_BYTES,
  bodyCrcAt: 100,
  what: 'kmem crash dump',
  fail: (offset, message) => new DumpFormatError(offset, message),
};
