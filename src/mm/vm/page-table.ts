/**
 * x86-64 4-level page tables in the arena (Linux mm/pgtable-generic.c, arch/x86/include/asm/pgtable*.h).
 *
 * Each table is one 4 KiB buddy page of 512 eight-byte entries; an entry is kept as two 32-bit words
 * (little-endian: `lo` holds the flag bits 0..11 and the frame address bits 12..31, `hi` holds bits
 * 32..63, of which kmem uses only bit 63, NX). RAM is at most 4 GiB, so a frame address always fits
 * in `lo`. Entries are addressed here by the index of their `lo` word in a whole-RAM Uint32Array.
 *
 * Levels, numbered as the SDM and machine/pte.ts number them: 4 = PGD/PML4 (bits 47..39), 3 = PUD/PDPT
 * (38..30), 2 = PMD/PD (29..21), 1 = PTE/PT (20..12). A PMD entry with PS set is a leaf mapping a 2 MiB
 * page (a transparent huge page, or the direct map).
 *
 * Table pages are GFP_KERNEL (unmovable) with page_owner tag VM_OWNER_PGTABLE, zeroed on allocation;
 * a table is freed when the range walk that emptied it returns (`pruneRange`).
 *
 * Locking: callers hold the owning mm's mmap_lock (or the Vm lock for init_mm's tables).
 */
import type { PageAllocator } from '../page-alloc.ts';
import { GFP } from '../gfp.ts';
import { assert } from '../../util/assert.ts';
import { PAGE_SIZE, PTRS_PER_TABLE } from './types.ts';
import { VM_OWNER_PGTABLE } from './owners.ts';
import { PTE_ACCESSED, PTE_HUGE, PTE_PRESENT, PTE_USER, PTE_WRITABLE } from '../../machine/pte.ts';

/** Shift of each level's index in a vaddr, by level: PTE (1) 12, PMD (2) 21, PUD (3) 30, PGD (4) 39. */
export const LEVEL_SHIFT: readonly number[] = [0, 12, 21, 30, 39];
/** Entries per table, and 32-bit words per table page (each entry is two words). */
const TABLE_ENTRIES = PTRS_PER_TABLE;
const WORDS_PER_TABLE = PAGE_SIZE / 4;
/** Bytes one entry of each level spans. */
export const LEVEL_SPAN: readonly number[] = LEVEL_SHIFT.map((s) => 2 ** s);

/** The index into a table of `level` that translates vaddr. */
export function levelIndex(vaddr: number, level: number): number {
  return Math.floor(vaddr / (LEVEL_SPAN[level] as number)) % PTRS_PER_TABLE;
}

/** The frame an entry points to (a table or a page). */
export function entryPfn(lo: number): number {
  return lo >>> 12;
}

/** The gap free_pgtables may empty, and optionally who frees the tables taken out (vaddr: the start of the span the table mapped). */
export interface TableRange {
  floor: number;
  ceiling: number;
  free?: (pfn: number, vaddr: number) => void;
}

export class PageTables {
  constructor(
    readonly words: Uint32Array,
    readonly pages: PageAllocator,
  ) {}

  /** A zeroed table page; null when memory is exhausted (the caller fails with ENOMEM). */
  allocTable(): number | null {
    return this.pages.tryAllocPages(0, GFP.KERNEL | GFP.ZERO | GFP.NORETRY | GFP.NOWARN, VM_OWNER_PGTABLE);
  }

  freeTable(pfn: number): void {
    this.pages.freePages(pfn, 0, VM_OWNER_PGTABLE);
  }

  /** The word index of the entry of the table at `tablePfn` that translates vaddr at `level`. */
  slot(tablePfn: number, vaddr: number, level: number): number {
    return (tablePfn * PAGE_SIZE) / 4 + levelIndex(vaddr, level) * 2;
  }

  /**
   * Walks from the PGD down to the table of `level` that translates vaddr and returns the word index
   * of its entry. Missing tables are made when `alloc` is set (`onTable` hears of each); otherwise,
   * or when memory runs out, the result is -1. A huge PMD on the way down ends the walk at level 2:
   * the caller sees `(words[slot] & PTE_HUGE) !== 0` there, a slot of level 2.
   */
  entry(pgdPfn: number, vaddr: number, level: number, alloc: boolean, onTable?: (delta: number) => void): number {
    let table = pgdPfn;
    for (let l = 4; l > level; l--) {
      const s = this.slot(table, vaddr, l);
      let lo = this.words[s] as number;
      if ((lo & PTE_PRESENT) === 0) {
        if (!alloc) return -1;
        const pfn = this.allocTable();
        if (pfn === null) return -1;
        onTable?.(1);
        // A table entry grants everything; the leaf decides (Linux's _PAGE_TABLE).
        lo = ((pfn * PAGE_SIZE) | TABLE_ENTRY_FLAGS) >>> 0;
        this.words[s] = lo;
        this.words[s + 1] = 0;
      } else if (l === 2 && (lo & PTE_HUGE) !== 0) {
        return s;
      }
      table = entryPfn(lo);
    }
    return this.slot(table, vaddr, level);
  }

  /** Whether every entry of the table at pfn is zero. */
  isEmpty(pfn: number): boolean {
    const words = this.words;
    const base = pfn * WORDS_PER_TABLE;
    // Eight words a step: one branch per four entries (a table page is 1024 words).
    for (let i = base; i < base + WORDS_PER_TABLE; i += 8) {
      const any = (words[i] as number) | (words[i + 1] as number) | (words[i + 2] as number) | (words[i + 3] as number) |
        (words[i + 4] as number) | (words[i + 5] as number) | (words[i + 6] as number) | (words[i + 7] as number);
      if (any !== 0) return false;
    }
    return true;
  }

  /**
   * Visits every leaf entry in [start, end) under the PGD at `pgdPfn` (a PTE, or a huge PMD) whose
   * low word is not zero, in address order; `leaf(slot, vaddr, level)` may clear it. Absent subtrees
   * are skipped whole, so a walk over a sparse terabyte costs what its tables hold. With `tables`
   * set, afterwards frees every table whose whole span lies in [floor, ceiling) (free_pgtables: no
   * VMA covers it, so it must be empty). Returns the table pages freed. With `tables.free` set, a
   * table unlinked from the tree is handed to it instead of freed here (an mmu_gather frees it after
   * the TLB flush, mmu-gather.ts).
   */
  walkRange(
    pgdPfn: number,
    start: number,
    end: number,
    leaf: (slot: number, vaddr: number, level: number) => void,
    tables: TableRange | null,
  ): number {
    assert(start < end, () => `page-table walk of [${start}, ${end}): expected a non-empty range`);
    return this.walk(pgdPfn, 4, start, end, leaf, tables);
  }

  private walk(
    tablePfn: number,
    level: number,
    start: number,
    end: number,
    leaf: (slot: number, vaddr: number, level: number) => void,
    tables: TableRange | null,
  ): number {
    // Indexed by entry, not by address: absent entries (a zero low word) cost one load each.
    const words = this.words;
    const span = LEVEL_SPAN[level] as number;
    const tableBytes = span * TABLE_ENTRIES;
    const tableStart = Math.floor(start / tableBytes) * tableBytes;
    const first = Math.floor((start - tableStart) / span);
    const last = Math.floor((end - 1 - tableStart) / span);
    assert(last < TABLE_ENTRIES, () => `page-table walk of [${start}, ${end}) at level ${level}: expected the range inside one table`);
    const base = tablePfn * WORDS_PER_TABLE;
    let freed = 0;
    for (let i = first; i <= last; i++) {
      const s = base + i * 2;
      const lo = words[s] as number;
      if (lo === 0) continue;
      const entryStart = tableStart + i * span;
      if (level === 1 || (level === 2 && (lo & PTE_HUGE) !== 0)) {
        leaf(s, entryStart, level);
      } else if ((lo & PTE_PRESENT) !== 0) {
        const child = entryPfn(lo);
        freed += this.walk(child, level - 1, Math.max(start, entryStart), Math.min(entryStart + span, end), leaf, tables);
        if (tables !== null && entryStart >= tables.floor && entryStart + span <= tables.ceiling) {
          assert(this.isEmpty(child), () => `page table at pfn ${child} spans no VMA ([0x${entryStart.toString(16)}, +0x${span.toString(16)})) yet holds entries`);
          words[s] = 0;
          words[s + 1] = 0;
          if (tables.free === undefined) this.freeTable(child);
          else tables.free(child, entryStart);
          freed++;
        }
      }
    }
    return freed;
  }
}

/** Present | writable | user | accessed: what Linux puts in an entry that points to a table (_PAGE_TABLE). */
const TABLE_ENTRY_FLAGS = PTE_PRESENT | PTE_WRITABLE | PTE_USER | PTE_ACCESSED;
