/**
 * An address space's page-table tree as the explorer draws it: every table page reachable from the
 * mm's PGD through its user half, each with the kind of each of its 512 entries, read from RAM as
 * the hardware walker would read them (src/mm/vm/page-table.ts has the format). The kernel half of
 * the PGD (entries 256–511, copied from init_mm) is marked shared and not descended.
 *
 * The census ties the drawing to the kernel's own counters (tested in test/lab/page-table-map.test.ts
 * and in the browser test):
 *   tables drawn + huge leaves (one deposited PTE table each)          = mm.pageTablePages
 *   4 KiB leaves + 512 × huge leaves (the zero pages left out)         = mm.rssAnonPages
 *   huge leaves                                                          = AnonHugePages / 2 MiB
 *
 * Reads only; the caller holds the mm's mmap_lock or knows nothing else runs (the explorer's page).
 */
import { PTE_HUGE, PTE_PRESENT } from '../../machine/pte.ts';
import { PTE_PROTNONE } from '../../mm/vm/fault.ts';
import type { AddressSpace } from '../../mm/vm/mm-struct.ts';
import { LEVEL_SPAN, entryPfn } from '../../mm/vm/page-table.ts';
import { PAGE_SIZE, PTRS_PER_TABLE } from '../../mm/vm/types.ts';
import { ROOT } from '../../mm/vm/vm.ts';
import { assert } from '../../util/assert.ts';

export const PteKind = {
  Empty: 0,
  /** Present, pointing to a table of the next level. */
  Table: 1,
  /** A present 4 KiB leaf mapping an anonymous page. */
  Page4k: 2,
  /** A present 2 MiB leaf (PS set in a PMD entry): a transparent huge page. */
  Huge: 3,
  /** A leaf mapping the shared zero page, or the huge zero page. */
  ZeroPage: 4,
  /** A PGD entry of the kernel half, shared with init_mm. */
  Kernel: 5,
  /** A leaf with P clear that still maps a page (PROT_NONE: _PAGE_PROTNONE set). */
  ProtNone: 6,
} as const;
export type PteKind = (typeof PteKind)[keyof typeof PteKind];
export const PTE_KIND_NAMES: readonly string[] = ['empty', 'table', '4 KiB page', '2 MiB page', 'zero page', 'kernel half (shared)', 'PROT_NONE'];

/** Level names, by the SDM's numbering (4 = PML4/PGD … 1 = PT/PTE). */
export const LEVEL_NAMES: readonly string[] = ['', 'PTE', 'PMD', 'PUD', 'PGD'];

export interface TableImage {
  level: number;
  pfn: number;
  /** The first virtual address the table translates. */
  baseVaddr: number;
  kinds: Uint8Array;
}

export interface PageTableCensus {
  tables: number;
  tablesByLevel: number[];
  /** Entries of each kind, over every table drawn. */
  entries: number[];
  /** Pages the leaves map (512 for a PMD leaf), the zero pages left out: the mm's anonymous RSS. */
  mappedPages: number;
}

const KERNEL_PGD_FIRST = PTRS_PER_TABLE / 2;
/** Beyond this many tables the walk stops (a user half of a 64 MiB machine holds far fewer). */
const MAX_TABLES = 4096;

/** Every table of mm's user half, PGD first, then by level and address. */
export function pageTableMap(mm: AddressSpace): TableImage[] {
  const vm = mm.vm;
  const u = vm.u;
  const zero = vm.zeroPfn;
  const hugeZero = vm.root(ROOT.HUGE_ZERO_PFN);
  const out: TableImage[] = [];
  const visit = (pfn: number, level: number, baseVaddr: number): void => {
    assert(out.length < MAX_TABLES, () => `page-table map of pid ${mm.pid}: more than ${MAX_TABLES} tables; expected a small address space`);
    const kinds = new Uint8Array(PTRS_PER_TABLE);
    const image: TableImage = { level, pfn, baseVaddr, kinds };
    out.push(image);
    const base = (pfn * PAGE_SIZE) / 4;
    const children: [number, number][] = [];
    for (let i = 0; i < PTRS_PER_TABLE; i++) {
      const lo = u[base + 2 * i] as number;
      if (level === 4 && i >= KERNEL_PGD_FIRST) {
        kinds[i] = lo === 0 ? PteKind.Empty : PteKind.Kernel;
        continue;
      }
      if (lo === 0) continue;
      const leaf = level === 1 || (level === 2 && (lo & PTE_HUGE) !== 0);
      const target = entryPfn(lo);
      if (!leaf) {
        kinds[i] = PteKind.Table;
        if ((lo & PTE_PRESENT) !== 0) children.push([target, baseVaddr + i * (LEVEL_SPAN[level] as number)]);
      } else if ((lo & PTE_PRESENT) === 0) kinds[i] = (lo & PTE_PROTNONE) !== 0 ? PteKind.ProtNone : PteKind.Empty;
      else if (target === zero || (level === 2 && target === hugeZero)) kinds[i] = PteKind.ZeroPage;
      else kinds[i] = level === 2 ? PteKind.Huge : PteKind.Page4k;
    }
    for (const [child, vaddr] of children) visit(child, level - 1, vaddr);
  };
  visit(mm.pgdPfn, 4, 0);
  // Breadth by level for drawing: PGD, the PUDs, the PMDs, the PTE tables, each in address order.
  return out.sort((a, b) => b.level - a.level || a.baseVaddr - b.baseVaddr);
}

export function pageTableCensus(tables: readonly TableImage[]): PageTableCensus {
  const entries = new Array<number>(PTE_KIND_NAMES.length).fill(0);
  const tablesByLevel = [0, 0, 0, 0, 0];
  let mappedPages = 0;
  for (const t of tables) {
    tablesByLevel[t.level] = (tablesByLevel[t.level] ?? 0) + 1;
    const pagesPerLeaf = t.level === 2 ? PTRS_PER_TABLE : 1;
    for (const k of t.kinds) {
      entries[k] = (entries[k] ?? 0) + 1;
      if (k === PteKind.Page4k || k === PteKind.Huge || k === PteKind.ProtNone) mappedPages += pagesPerLeaf;
    }
  }
  return { tables: tables.length, tablesByLevel, entries, mappedPages };
}
