/**
 * mm_struct: one address space, a 128-byte object of the slab cache 'mm_struct', and `AddressSpace`,
 * its host-side wrapper (a paddr and the Vm it belongs to; losing it loses nothing).
 *
 * Layout (byte offsets):
 *   0   i32 mmap_lock       a LockWord (sync/lock-word.ts)
 *   4   i32 pgd pfn         the PML4 page, loaded into CR3
 *   8   i32 index pfn       the buddy block holding the sorted VMA index (vma paddrs, i32, by start)
 *   12  i32 index order     its order; capacity = 2^order · 1024 VMAs
 *   16  i32 map_count       VMAs in the index
 *   20  i32 next anon_vma   the id the next anon_vma_prepare() hands out
 *   24  i32 pid
 *   28  i32 next mm         paddr of the next mm on Vm's list of mms (0 = end)
 *   32  f64 start_brk       40 f64 brk       48 f64 mmap_base
 *   56  f64 rss anon pages (MM_ANONPAGES; a 2 MiB page counts 512)
 *   64  f64 page-table pages (mm->pgtables_bytes / 4096; the PGD included)
 *   72  f64 total_vm pages  80 f64 anon PMD mappings (THPs)
 *   88  i32 prev mm         92 i32 max_map_count
 *   96  f64 page faults handled (the task's min_flt)
 *   104 i32 cpumask        paddr of the mm's CPU mask (kmalloc, tlb-shootdown.ts): CPUs that may
 *                          cache its translations
 *   108 i32 fork DMA policy (cow.ts)
 *
 * The VMA index is a sorted array rather than Linux's maple tree: lookups are a binary search,
 * inserts and removes one `copyWithin` (a native memmove) of at most max_map_count · 4 = 256 KiB, and
 * it lives in one buddy block whose layout a crash dump shows plainly. Linux needs the maple tree for
 * RCU-safe lock-free lookups in the fault path; kmem's faults take mmap_lock, so it does not.
 *
 * Locking: mmap_lock is held for every call that reads or changes VMAs or page tables of this mm.
 */
import { VM_OWNER_VMA_INDEX } from './owners.ts';
import { ACCESS_EXEC, ACCESS_READ, ACCESS_WRITE, WALK_OK } from '../../machine/mmu.ts';
import { PTE_HUGE } from '../../machine/pte.ts';
import { LockWord } from '../../sync/lock-word.ts';
import { assert } from '../../util/assert.ts';
import { InvariantError } from '../../util/errors.ts';
import { handleFault } from './fault.ts';
import { doMadvise } from './madvise.ts';
import { doBrk, doMmap, doMunmap } from './mmap.ts';
import { doMprotect } from './mprotect.ts';
import { procMaps, procSmapsRollup } from './proc.ts';
import { PAGE_SIZE, TASK_SIZE, VM } from './types.ts';
import type { AccessKind } from './types.ts';
import { zapRange } from './vma-ops.ts';
import { MmuGather } from './mmu-gather.ts';
import type { Vm } from './vm.ts';

export const MM_BYTES = 128;
export const MM = {
  LOCK: 0,
  PGD: 1,
  INDEX_PFN: 2,
  INDEX_ORDER: 3,
  MAP_COUNT: 4,
  NEXT_ANON_VMA: 5,
  PID: 6,
  NEXT: 7,
  PREV: 22,
  MAX_MAP_COUNT: 23,
  CPUMASK: 26,
  /** The fork policy for DMA-pinned pages of this mm's last fork (an index into FORK_DMA_POLICIES, cow.ts). */
  FORK_DMA_POLICY: 27,
} as const;
/** f64 slots (byte offset / 8). */
export const MMF = {
  START_BRK: 4,
  BRK: 5,
  MMAP_BASE: 6,
  RSS_ANON: 7,
  PGTABLES: 8,
  TOTAL_VM: 9,
  ANON_PMDS: 10,
  FAULTS: 12,
  /** Swap PTEs of this mm (MM_SWAPENTS; mm/swap/). */
  SWAP_ENTS: 14,
} as const;

/** VMAs one index page holds. */
export const INDEX_PER_PAGE = PAGE_SIZE / 4;

export class AddressSpace {
  readonly lock: LockWord;
  private readonly wBase: number;
  private readonly fBase: number;

  constructor(
    readonly vm: Vm,
    readonly paddr: number,
  ) {
    this.wBase = paddr / 4;
    this.fBase = paddr / 8;
    // Its holder recorded; a dead holder's lock is refused, not taken over (nothing rebuilds page tables and VMAs).
    this.lock = new LockWord(vm.w, this.wBase + MM.LOCK, vm.kernel.lockOwner, null, 'refuse');
  }

  word(i: number): number {
    return this.vm.w[this.wBase + i] as number;
  }
  setWord(i: number, value: number): void {
    this.vm.w[this.wBase + i] = value;
  }
  num(i: number): number {
    return this.vm.f[this.fBase + i] as number;
  }
  setNum(i: number, value: number): void {
    this.vm.f[this.fBase + i] = value;
  }
  addNum(i: number, delta: number): void {
    this.vm.f[this.fBase + i] = (this.vm.f[this.fBase + i] as number) + delta;
  }

  /** Takes mmap_lock; a CPU of this thread keeps answering TLB shootdowns while it waits. */
  lockMmap(): void {
    this.lock.acquire(this.vm.servicePending);
  }

  /** The i32 word index of the mm's CPU mask (0: none). */
  get cpumaskBase(): number {
    return this.word(MM.CPUMASK) / 4;
  }

  get pid(): number {
    return this.word(MM.PID);
  }
  get pgdPfn(): number {
    return this.word(MM.PGD);
  }
  /** CR3 for this address space: the PML4's physical address. */
  get cr3(): number {
    return this.pgdPfn * PAGE_SIZE;
  }
  get mapCount(): number {
    return this.word(MM.MAP_COUNT);
  }
  get maxMapCount(): number {
    return this.word(MM.MAX_MAP_COUNT);
  }
  get startBrk(): number {
    return this.num(MMF.START_BRK);
  }
  get brkEnd(): number {
    return this.num(MMF.BRK);
  }
  get mmapBase(): number {
    return this.num(MMF.MMAP_BASE);
  }
  get rssAnonPages(): number {
    return this.num(MMF.RSS_ANON);
  }
  /** Swap PTEs (pages of this mm out on the swap device). */
  get swapEntries(): number {
    return this.num(MMF.SWAP_ENTS);
  }
  get pageTablePages(): number {
    return this.num(MMF.PGTABLES);
  }
  get totalVmPages(): number {
    return this.num(MMF.TOTAL_VM);
  }
  get faults(): number {
    return this.num(MMF.FAULTS);
  }

  // --- the system calls (mmap.ts, mprotect.ts, madvise.ts) ------------------------------------

  /** mmap(addr, length, prot, flags) for anonymous private memory; returns the start. */
  mmap(addr: number, length: number, prot: number, flags: number): number {
    return doMmap(this, addr, length, prot, flags);
  }
  munmap(addr: number, length: number): void {
    doMunmap(this, addr, length);
  }
  mprotect(addr: number, length: number, prot: number): void {
    doMprotect(this, addr, length, prot);
  }
  madvise(addr: number, length: number, advice: number): void {
    doMadvise(this, addr, length, advice);
  }
  /** brk(addr): the new break, or the current one when refused; brk(0) asks for the current one. */
  brk(addr: number): number {
    return doBrk(this, addr);
  }

  // --- the kernel's accesses to user memory (copy_to_user / copy_from_user) ---------------------

  /**
   * Whether a user access of kind `access` to vaddr translates without a fault, through this
   * worker's page walker (which sets the accessed and dirty bits as the hardware does).
   */
  translates(vaddr: number, access: AccessKind): boolean {
    const code = access === 'write' ? ACCESS_WRITE : access === 'exec' ? ACCESS_EXEC : ACCESS_READ;
    return this.vm.walker.walk(this.cr3, 0, vaddr, code, true) === WALK_OK;
  }

  /** The physical address of user byte vaddr for `access`, faulting it in as the CPU would. */
  private physical(vaddr: number, access: AccessKind): number {
    if (!Number.isInteger(vaddr) || vaddr < 0 || vaddr >= TASK_SIZE) handleFault(this, vaddr, access);
    const walker = this.vm.walker;
    const code = access === 'write' ? ACCESS_WRITE : ACCESS_READ;
    for (let tries = 0; tries < 3; tries++) {
      if (walker.walk(this.cr3, 0, vaddr, code, true) === WALK_OK) {
        const mask = 2 ** walker.pageShift - 1;
        return walker.frame + (vaddr % (mask + 1));
      }
      this.lockMmap();
      try {
        handleFault(this, vaddr, access);
      } finally {
        this.lock.release();
      }
    }
    throw new InvariantError(`fault at 0x${vaddr.toString(16)} not resolved after 3 tries: expected the handler to map it`);
  }

  /** Reads one user byte (a fault first when needed; SegvError where the access is refused). */
  readByte(vaddr: number): number {
    return this.vm.ram.bytes[this.physical(vaddr, 'read')] as number;
  }

  writeByte(vaddr: number, value: number): void {
    this.vm.ram.bytes[this.physical(vaddr, 'write')] = value;
  }

  /** Copies `length` user bytes from vaddr, page by page. */
  read(vaddr: number, length: number): Uint8Array {
    const out = new Uint8Array(length);
    for (let done = 0; done < length; ) {
      const n = Math.min(length - done, PAGE_SIZE - ((vaddr + done) % PAGE_SIZE));
      const p = this.physical(vaddr + done, 'read');
      out.set(this.vm.ram.bytes.subarray(p, p + n), done);
      done += n;
    }
    return out;
  }

  write(vaddr: number, bytes: Uint8Array): void {
    for (let done = 0; done < bytes.length; ) {
      const n = Math.min(bytes.length - done, PAGE_SIZE - ((vaddr + done) % PAGE_SIZE));
      this.vm.ram.bytes.set(bytes.subarray(done, done + n), this.physical(vaddr + done, 'write'));
      done += n;
    }
  }

  /** Whether a huge (PMD) entry maps the 2 MiB range at haddr (a THP or the huge zero page). */
  mapsHuge(haddr: number): boolean {
    const slot = this.vm.tables.entry(this.pgdPfn, haddr, 2, false);
    return slot >= 0 && ((this.vm.u[slot] as number) & PTE_HUGE) !== 0;
  }

  /** /proc/<pid>/maps. */
  maps(): string {
    return procMaps(this);
  }

  /** /proc/<pid>/smaps_rollup. */
  smapsRollup(): string {
    return procSmapsRollup(this);
  }

  /** exit_mmap: unmaps everything, frees every page table, VMA and the index, and the mm itself. */
  destroy(): void {
    const vm = this.vm;
    this.lockMmap();
    try {
      // tlb_gather_mmu_fullmm: one flush of the whole mm, then the pages and tables are freed.
      // unmap_vmas and free_pgtables in one walk per VMA: a table is freed with the last VMA whose
      // range it spans (the next VMA's start is the ceiling), so each walk visits only that VMA's range.
      const tlb = new MmuGather(this, true);
      const top = TASK_SIZE + PAGE_SIZE;
      for (let i = 0; i < this.mapCount; i++) {
        const vma = this.vmaAt(i);
        const ceiling = i + 1 < this.mapCount ? vm.vmas.start(this.vmaAt(i + 1)) : top;
        zapRange(this, vm.vmas.start(vma), vm.vmas.end(vma), { floor: 0, ceiling }, tlb);
        vm.vmaCache.free(vma);
      }
      this.removeAt(0, this.mapCount);
      // Tables no VMA's range reaches (none are made outside VMAs; this only makes sure): the whole space.
      if (this.pageTablePages > 1) {
        const free = (pfn: number, vaddr: number): void => tlb.removeTable(pfn, vaddr);
        this.countTables(-vm.tables.walkRange(this.pgdPfn, 0, top, () => undefined, { floor: 0, ceiling: top, free }));
      }
      assert(this.pageTablePages === 1, () => `exit of mm 0x${this.paddr.toString(16)}: ${this.pageTablePages} table pages left after freeing its tables, expected the PGD only`);
      this.countTables(-1);
      tlb.removeTable(this.pgdPfn, 0);
      tlb.finish();
      vm.pages.freePages(this.word(MM.INDEX_PFN), this.word(MM.INDEX_ORDER), VM_OWNER_VMA_INDEX);
    } finally {
      this.lock.release();
    }
    vm.releaseAddressSpace(this);
  }

  countTables(delta: number): void {
    this.addNum(MMF.PGTABLES, delta);
    this.vm.count('nr_page_table_pages', delta);
  }

  countAnon(pages: number): void {
    this.addNum(MMF.RSS_ANON, pages);
    this.vm.count('nr_anon_pages', pages);
  }

  /**
   * anon_vma_prepare: gives the VMA an anon_vma id before its first page. Like Linux's
   * find_mergeable_anon_vma it reuses an adjacent VMA's id when the two differ at most in their access
   * flags, so that a later mprotect that makes the flags equal lets vma_merge join them.
   */
  anonVmaPrepare(vma: number): void {
    const vmas = this.vm.vmas;
    if (vmas.anonVma(vma) !== 0) return;
    const i = this.findIndex(vmas.start(vma));
    const mask = ~(VM.READ | VM.WRITE | VM.EXEC);
    const compatible = (other: number): boolean =>
      vmas.anonVma(other) !== 0 && (vmas.flags(other) & mask) === (vmas.flags(vma) & mask);
    let id = 0;
    if (i > 0) {
      const prev = this.vmaAt(i - 1);
      if (vmas.end(prev) === vmas.start(vma) && compatible(prev)) id = vmas.anonVma(prev);
    }
    if (id === 0 && i + 1 < this.mapCount) {
      const next = this.vmaAt(i + 1);
      if (vmas.start(next) === vmas.end(vma) && compatible(next)) id = vmas.anonVma(next);
    }
    if (id === 0) {
      id = this.word(MM.NEXT_ANON_VMA);
      this.setWord(MM.NEXT_ANON_VMA, id + 1);
    }
    vmas.setAnonVma(vma, id);
  }

  // --- the VMA index: a sorted array of VMA paddrs in one buddy block --------------------------

  private get indexBase(): number {
    return (this.word(MM.INDEX_PFN) * PAGE_SIZE) / 4;
  }

  private get indexCapacity(): number {
    return INDEX_PER_PAGE << this.word(MM.INDEX_ORDER);
  }

  /** The i-th VMA by address. */
  vmaAt(i: number): number {
    assert(i >= 0 && i < this.mapCount, () => `VMA index ${i}: expected one in [0, ${this.mapCount})`);
    return this.vm.w[this.indexBase + i] as number;
  }

  /** The index of the first VMA that ends above vaddr (find_vma); mapCount if there is none. */
  findIndex(vaddr: number): number {
    const vmas = this.vm.vmas;
    const base = this.indexBase;
    let lo = 0;
    let hi = this.mapCount;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (vmas.end(this.vm.w[base + mid] as number) > vaddr) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  /** The VMA containing vaddr, or 0 (vma_lookup). */
  vmaContaining(vaddr: number): number {
    const i = this.findIndex(vaddr);
    if (i >= this.mapCount) return 0;
    const vma = this.vmaAt(i);
    return this.vm.vmas.start(vma) <= vaddr ? vma : 0;
  }

  /** Makes room for `extra` more VMAs; false when the page allocator has no block for a larger index. */
  reserveIndex(extra: number): boolean {
    const need = this.mapCount + extra;
    if (need <= this.indexCapacity) return true;
    let order = this.word(MM.INDEX_ORDER);
    while (INDEX_PER_PAGE << order < need) order++;
    const pfn = this.vm.allocIndexBlock(order);
    if (pfn === null) return false;
    const words = this.vm.w;
    words.copyWithin((pfn * PAGE_SIZE) / 4, this.indexBase, this.indexBase + this.mapCount);
    this.vm.pages.freePages(this.word(MM.INDEX_PFN), this.word(MM.INDEX_ORDER), VM_OWNER_VMA_INDEX);
    this.setWord(MM.INDEX_PFN, pfn);
    this.setWord(MM.INDEX_ORDER, order);
    return true;
  }

  /** Inserts `vma` at position i (the caller has reserved room and keeps the order). */
  insertAt(i: number, vma: number): void {
    const count = this.mapCount;
    assert(count < this.indexCapacity, 'VMA index full: expected reserveIndex() first');
    const base = this.indexBase;
    this.vm.w.copyWithin(base + i + 1, base + i, base + count);
    this.vm.w[base + i] = vma;
    this.setWord(MM.MAP_COUNT, count + 1);
  }

  /** Removes `n` VMAs from position i (the caller frees the objects). */
  removeAt(i: number, n: number): void {
    const count = this.mapCount;
    const base = this.indexBase;
    this.vm.w.copyWithin(base + i, base + i + n, base + count);
    this.setWord(MM.MAP_COUNT, count - n);
  }
}
