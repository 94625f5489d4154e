/**
 * /proc files of virtual memory, in Linux's formats (fs/proc/task_mmu.c show_map_vma,
 * show_vma_header_prefix, show_smaps_rollup, __show_smap; fs/proc/meminfo.c; mm/vmstat.c):
 *
 *   maps          "start-end rwxp offset dev inode", a space, then for a named mapping padding to
 *                 column 72, a space and the name ([heap] for the VMA holding the break). Anonymous
 *                 mappings print offset 00000000, device 00:00, inode 0.
 *   smaps_rollup  a "[rollup]" header from the first VMA's start to the last one's end, flags ---p,
 *                 then the totals as "Label:" padded to 16 columns, the value in kB right-aligned in 8.
 *   meminfo       the lines kmem models, in Linux's order and format ("Label:" padded to 16, 8-wide kB).
 *   vmstat        "name value" per line.
 *
 * Rss counts the pages mapped (not the shared zero pages, small or huge, as vm_normal_page() and
 * vm_normal_page_pmd() skip them); Pss divides
 * each page by its mapcount; Swap counts the mm's swap PTEs and SwapPss divides each by its slot's
 * count (mm/swap/). kmem has no files, shmem or hugetlbfs: those lines are 0 because nothing of the
 * kind exists.
 */
import { PTE_ACCESSED, PTE_DIRTY, PTE_HUGE, PTE_PRESENT } from '../../machine/pte.ts';
import { PTE_PROTNONE } from './fault.ts';
import { isSwapPte, swpOffset } from '../swap/swp-entry.ts';
import { swapMap } from '../swap/swapfile.ts';
import { swapBytes } from '../swap/validate.ts';
import { lruPages } from '../swap/lru.ts';
import type { AddressSpace } from './mm-struct.ts';
import { entryPfn } from './page-table.ts';
import { HPAGE_PMD_NR, PAGE_SIZE, PGDIR_SIZE, VM } from './types.ts';
import type { Vm, VmCounter } from './vm.ts';
import { ROOT } from './vm.ts';

const KB = 1024;

function hex(value: number, width: number): string {
  return value.toString(16).padStart(width, '0');
}

/** The start of a /proc/<pid>/maps line (show_vma_header_prefix), up to and including the space after the inode. */
function headerPrefix(start: number, end: number, flags: number): string {
  const r = (flags & VM.READ) !== 0 ? 'r' : '-';
  const w = (flags & VM.WRITE) !== 0 ? 'w' : '-';
  const x = (flags & VM.EXEC) !== 0 ? 'x' : '-';
  const s = (flags & VM.SHARED) !== 0 ? 's' : 'p';
  return `${hex(start, 8)}-${hex(end, 8)} ${r}${w}${x}${s} 00000000 00:00 0 `;
}

/** seq_pad(m, ' ') after seq_setwidth(m, 25 + sizeof(void *) * 6 - 1): pad to column 72, then a space. */
function padName(prefix: string, name: string): string {
  return `${prefix.padEnd(72)} ${name}`;
}

export function procMaps(mm: AddressSpace): string {
  const vmas = mm.vm.vmas;
  let out = '';
  for (let i = 0; i < mm.mapCount; i++) {
    const vma = mm.vmaAt(i);
    const start = vmas.start(vma);
    const end = vmas.end(vma);
    const prefix = headerPrefix(start, end, vmas.flags(vma));
    const heap = start <= mm.brkEnd && end >= mm.startBrk;
    out += `${heap ? padName(prefix, '[heap]') : prefix}\n`;
  }
  return out;
}

export interface SmapsTotals {
  rssBytes: number;
  pssBytes: number;
  pssDirtyBytes: number;
  sharedCleanBytes: number;
  sharedDirtyBytes: number;
  privateCleanBytes: number;
  privateDirtyBytes: number;
  referencedBytes: number;
  anonymousBytes: number;
  anonHugePagesBytes: number;
  /** Pages out on swap (smaps' Swap), and each divided by the entries sharing its slot (SwapPss). */
  swapBytes: number;
  swapPssBytes: number;
  /** Pss of the pages in VM_LOCKED VMAs (smaps_account's pss_locked; smaps' Locked). */
  pssLockedBytes: number;
}

/** The smaps totals over every VMA of mm (smap_gather_stats). */
export function smapsTotals(mm: AddressSpace): SmapsTotals {
  const vm = mm.vm;
  const t: SmapsTotals = {
    rssBytes: 0,
    pssBytes: 0,
    pssDirtyBytes: 0,
    sharedCleanBytes: 0,
    sharedDirtyBytes: 0,
    privateCleanBytes: 0,
    privateDirtyBytes: 0,
    referencedBytes: 0,
    anonymousBytes: 0,
    anonHugePagesBytes: 0,
    swapBytes: 0,
    swapPssBytes: 0,
    pssLockedBytes: 0,
  };
  const vmas = vm.vmas;
  const hugeZeroPfn = vm.root(ROOT.HUGE_ZERO_PFN);
  for (let i = 0; i < mm.mapCount; i++) {
    const vma = mm.vmaAt(i);
    const locked = (vmas.flags(vma) & VM.LOCKED) !== 0;
    vm.tables.walkRange(
      mm.pgdPfn,
      vmas.start(vma),
      vmas.end(vma),
      (slot, _vaddr, level) => {
        const lo = vm.u[slot] as number;
        if ((lo & (PTE_PRESENT | PTE_PROTNONE)) === 0) {
          if (level === 1 && isSwapPte(lo)) {
            t.swapBytes += PAGE_SIZE;
            t.swapPssBytes += PAGE_SIZE / Math.max(1, swapCount(vm, lo));
          }
          return;
        }
        const pfn = entryPfn(lo);
        // Neither zero page is counted: vm_normal_page() skips the small one, vm_normal_page_pmd()
        // the huge one (is_huge_zero_pmd), so smaps_pte_entry / smaps_pmd_entry see no page.
        if (pfn === vm.zeroPfn || (level === 2 && hugeZeroPfn !== 0 && pfn === hugeZeroPfn)) return;
        const huge = level === 2 && (lo & PTE_HUGE) !== 0;
        const bytes = huge ? HPAGE_PMD_NR * PAGE_SIZE : PAGE_SIZE;
        const mapcount = Math.max(1, vm.memMap.mapcount[pfn] as number);
        const dirty = (lo & PTE_DIRTY) !== 0;
        t.rssBytes += bytes;
        t.pssBytes += bytes / mapcount;
        if (dirty) t.pssDirtyBytes += bytes / mapcount;
        if (locked) t.pssLockedBytes += bytes / mapcount;
        if (mapcount > 1) {
          if (dirty) t.sharedDirtyBytes += bytes;
          else t.sharedCleanBytes += bytes;
        } else if (dirty) t.privateDirtyBytes += bytes;
        else t.privateCleanBytes += bytes;
        if ((lo & PTE_ACCESSED) !== 0) t.referencedBytes += bytes;
        t.anonymousBytes += bytes;
        if (huge) t.anonHugePagesBytes += bytes;
      },
      null,
    );
  }
  return t;
}

function kbLine(label: string, kb: number): string {
  return `${`${label}:`.padEnd(16)}${String(Math.floor(kb)).padStart(8)} kB\n`;
}

export function procSmapsRollup(mm: AddressSpace): string {
  const vmas = mm.vm.vmas;
  const start = mm.mapCount > 0 ? vmas.start(mm.vmaAt(0)) : 0;
  const end = mm.mapCount > 0 ? vmas.end(mm.vmaAt(mm.mapCount - 1)) : 0;
  const t = smapsTotals(mm);
  const lines: [string, number][] = [
    ['Rss', t.rssBytes],
    ['Pss', t.pssBytes],
    ['Pss_Dirty', t.pssDirtyBytes],
    ['Pss_Anon', t.pssBytes],
    ['Pss_File', 0],
    ['Pss_Shmem', 0],
    ['Shared_Clean', t.sharedCleanBytes],
    ['Shared_Dirty', t.sharedDirtyBytes],
    ['Private_Clean', t.privateCleanBytes],
    ['Private_Dirty', t.privateDirtyBytes],
    ['Referenced', t.referencedBytes],
    ['Anonymous', t.anonymousBytes],
    ['LazyFree', 0],
    ['AnonHugePages', t.anonHugePagesBytes],
    ['ShmemPmdMapped', 0],
    ['FilePmdMapped', 0],
    ['Shared_Hugetlb', 0],
    ['Private_Hugetlb', 0],
    ['Swap', t.swapBytes],
    ['SwapPss', t.swapPssBytes],
    ['Locked', t.pssLockedBytes],
  ];
  let out = `${padName(headerPrefix(start, end, 0), '[rollup]')}\n`;
  for (const [label, bytes] of lines) out += kbLine(label, bytes / KB);
  return out;
}

/** The entries that share the slot a swap PTE names (swap_map). */
function swapCount(vm: Vm, lo: number): number {
  return swapMap(vm)[swpOffset(lo)] ?? 1;
}

/** /proc/meminfo, the lines kmem models (MemAvailable, caches and the rest are left out). */
export function procMeminfo(vm: Vm): string {
  const pageKb = PAGE_SIZE / KB;
  const swap = swapBytes(vm);
  const lru = lruPages(vm);
  return (
    kbLine('MemTotal', vm.pages.managedPagesTotal * pageKb) +
    kbLine('MemFree', vm.pages.freePagesTotal * pageKb) +
    kbLine('Active(anon)', lru.active * pageKb) +
    kbLine('Inactive(anon)', lru.inactive * pageKb) +
    kbLine('Unevictable', lru.unevictable * pageKb) +
    kbLine('SwapTotal', swap.totalBytes / KB) +
    kbLine('SwapFree', swap.freeBytes / KB) +
    kbLine('AnonPages', vm.counter('nr_anon_pages') * pageKb) +
    kbLine('PageTables', vm.counter('nr_page_table_pages') * pageKb) +
    kbLine('VmallocTotal', PGDIR_SIZE / KB) +
    kbLine('VmallocUsed', vm.counter('nr_vmalloc') * pageKb) +
    kbLine('VmallocChunk', 0) +
    kbLine('AnonHugePages', vm.counter('nr_anon_transparent_hugepages') * HPAGE_PMD_NR * pageKb)
  );
}

/** The /proc/vmstat events kmem counts, in the order Linux prints them (vmstat_text). */
export const VMSTAT_EVENTS = [
  'pswpin',
  'pswpout',
  'allocstall_movable',
  'pgactivate',
  'pgdeactivate',
  'pgfault',
  'pgmajfault',
  'pgrefill',
  'pgscan_anon',
  'pgsteal_anon',
  'pgmigrate_success',
  'compact_migrate_scanned',
  'compact_free_scanned',
  'compact_isolated',
  'compact_stall',
  'compact_fail',
  'compact_success',
  'compact_daemon_wake',
  'unevictable_pgs_munlocked',
  'thp_fault_alloc',
  'thp_fault_fallback',
  'thp_collapse_alloc',
  'thp_collapse_alloc_failed',
  'thp_split_page',
  'thp_split_pmd',
  'thp_zero_page_alloc',
] as const satisfies readonly VmCounter[];

/** /proc/vmstat, the counters kmem keeps: its nr_* figures, then VMSTAT_EVENTS. */
export function procVmstat(vm: Vm): string {
  const lines: [string, number][] = [
    ['nr_free_pages', vm.pages.freePagesTotal],
    ['nr_anon_pages', vm.counter('nr_anon_pages')],
    ['nr_anon_transparent_hugepages', vm.counter('nr_anon_transparent_hugepages')],
    ['nr_page_table_pages', vm.counter('nr_page_table_pages')],
    // The events kmem counts, in the order of Linux's vmstat_text (mm/vmstat.c, 6.6): swap, reclaim
    // and faults, then migration, compaction, mlock, and transparent huge pages.
    ...VMSTAT_EVENTS.map((name): [string, number] => [name, vm.counter(name)]),
  ];
  return lines.map(([name, value]) => `${name} ${value}\n`).join('');
}
