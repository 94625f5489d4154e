/**
 * mmu_gather: unmapping pages and freeing them in the right order (Linux include/asm-generic/tlb.h,
 * mm/mmu_gather.c). A zap clears page-table entries, but until every CPU that may cache those
 * translations has flushed them, a CPU can still reach the old frames through its TLB (and a freed
 * page table through its page-walk caches). So the pages whose last mapping went, and the page tables
 * taken out of the tree, are gathered; `flush()` (tlb_flush_mmu) first shoots the TLBs down for the
 * range the cleared entries covered, and only then frees them. Before this existed kmem freed each
 * page as its entry was cleared and flushed at the end, leaving a window in which another CPU could
 * read a freed and reused page through a stale entry (test/mm/vm/mmu-gather.test.ts shows it).
 *
 *   const tlb = new MmuGather(mm, false);      // tlb_gather_mmu (true: tlb_gather_mmu_fullmm, exit)
 *   zapRange(mm, start, end, null, tlb);       // unmap_vmas: entries cleared, pages gathered
 *   ...free_pgtables with tlb.removeTable...
 *   tlb.finish();                              // tlb_finish_mmu: flush, then free
 *
 * A gathered page keeps one reference (the gather's, as Linux's batch holds the page): its rmap list
 * and mapcount are already empty, refcount is 1, so compaction (which skips mapcount 0) and fork never
 * touch it. The batches are bounded at MAX_GATHER_BATCH entries each; a full batch flushes early
 * (as __tlb_remove_page asking for tlb_flush_mmu when no batch page can be had), which is correct
 * because the range flushed covers every entry cleared so far.
 *
 * Range: each cleared leaf widens it by the span it mapped (tlb_remove_tlb_entry); a freed table by
 * one page at its address (pte_free_tlb), which is enough because an INVLPG, and any wider flush,
 * empties the PCID's page-walk caches (SDM vol. 3A §4.10.4.1). A full-mm gather (exit) flushes the
 * whole address space. Nothing cleared: no flush (tlb_flush_mmu_tlbonly's `if (!tlb->end)`).
 *
 * Locking: the mm's mmap_lock is held from construction to finish().
 * Host-side: the batches and the range, for the length of one call under the mmap_lock, as Linux
 * keeps its struct mmu_gather on the kernel stack. Lost mid-call, the gathered pages would leak (they
 * stay referenced and unmapped), never be reused while reachable.
 */
import { assert } from '../../util/assert.ts';
import type { AddressSpace } from './mm-struct.ts';
import { putGatheredPage, type PageGather } from './rmap.ts';
import { PAGE_SIZE, TASK_SIZE } from './types.ts';

/** Pages one batch holds: Linux's MAX_GATHER_BATCH, (PAGE_SIZE − the batch header) / sizeof(void *) on 64-bit. */
export const MAX_GATHER_BATCH = 510;

export class MmuGather implements PageGather {
  private start = Infinity;
  private end = 0;
  private readonly pagePfns = new Int32Array(MAX_GATHER_BATCH);
  private readonly pageOrders = new Uint8Array(MAX_GATHER_BATCH);
  private nrPages = 0;
  private readonly tablePfns = new Int32Array(MAX_GATHER_BATCH);
  private nrTables = 0;
  private finished = false;
  /** TLB flushes this gather sent (tlb_flush_mmu calls that had a range). */
  flushes = 0;

  constructor(
    readonly mm: AddressSpace,
    readonly fullMm: boolean,
  ) {}

  /** A leaf entry mapping [start, end) was cleared: the flush must cover it. */
  track(start: number, end: number): void {
    assert(!this.finished, 'mmu_gather used after finish()');
    if (start < this.start) this.start = start;
    if (end > this.end) this.end = end;
  }

  /** __tlb_remove_page_size: the page's last mapping is gone; it is freed after the flush. */
  removePage(pfn: number, order: number): void {
    assert(!this.finished, 'mmu_gather used after finish()');
    if (this.nrPages === MAX_GATHER_BATCH) this.flush();
    this.pagePfns[this.nrPages] = pfn;
    this.pageOrders[this.nrPages] = order;
    this.nrPages++;
  }

  /** tlb_remove_table: a page table unlinked from the tree at `vaddr`; freed after the flush. */
  removeTable(pfn: number, vaddr: number): void {
    assert(!this.finished, 'mmu_gather used after finish()');
    if (this.nrTables === MAX_GATHER_BATCH) this.flush();
    this.track(vaddr, vaddr + PAGE_SIZE);
    this.tablePfns[this.nrTables] = pfn;
    this.nrTables++;
  }

  /** tlb_flush_mmu: shoot the TLBs down for the range gathered so far, then free what was gathered. */
  flush(): void {
    const mm = this.mm;
    const vm = mm.vm;
    if (this.fullMm && (this.end > 0 || this.nrPages + this.nrTables > 0)) {
      vm.flushTlb(mm, 0, TASK_SIZE);
      this.flushes++;
    } else if (this.end > this.start) {
      vm.flushTlb(mm, this.start, this.end);
      this.flushes++;
    }
    this.start = Infinity;
    this.end = 0;
    for (let i = 0; i < this.nrPages; i++) putGatheredPage(vm, this.pagePfns[i]!, this.pageOrders[i]!);
    this.nrPages = 0;
    for (let i = 0; i < this.nrTables; i++) vm.tables.freeTable(this.tablePfns[i]!);
    this.nrTables = 0;
  }

  /** tlb_finish_mmu: the last flush; the gather cannot be used after it. */
  finish(): void {
    assert(!this.finished, 'mmu_gather finished twice');
    this.flush();
    this.finished = true;
  }
}
