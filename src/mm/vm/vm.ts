/**
 * Virtual memory's root: the page of globals, the slab caches of its objects, the kernel's page
 * tables (init_mm: the direct map and vmalloc), the shared zero page, and the list of address spaces.
 *
 *   const vm = kernel.vm;                       // built on first use, found again by every worker
 *   const mm = vm.createAddressSpace();
 *   const addr = mm.mmap(0, 1 << 20, PROT.READ | PROT.WRITE, MAP.PRIVATE | MAP.ANONYMOUS);
 *   mm.write(addr, new Uint8Array([1, 2, 3]));  // demand-zero faults through the page tables
 *
 * Root page (one buddy page, its pfn in arena header word H.VM_ROOT_PFN), i32 words:
 *   [0] lock   [1] state (1 = ready)   [2] kernel PGD pfn   [3] first mm (paddr, 0 = none)
 *   [4] next pid   [5] zero page pfn   [6] first vmap_area (paddr)   [7] kernel table pages
 *   [8] vmalloc PUD pfn   [9..18] THP and khugepaged settings, the huge zero page, khugepaged's
 *   cursor mm, kcompactd's wake flag (ROOT below; thp-settings.ts)
 *   [19] TLB-shootdown block pfn   [20] its order (tlb-shootdown.ts: the domain and the bound mask)
 *   [21] the KFENCE pool's pfn   [22] the swap root's pfn (mm/swap/types.ts)
 *   byte 256: f64 khugepaged's cursor address
 *   byte 512 on: f64 counters, in the order of VM_COUNTERS (Linux's vmstat names)
 *
 * The kernel half of every user PGD (entries 256..511) is a copy of init_mm's, made when the mm is
 * created, as Linux's pgd_alloc() does. kmem pre-makes every kernel PUD table it will ever use (the
 * direct map's and vmalloc's), as x86-64's preallocate_vmalloc_pages() does, so the copies never go
 * stale. vmalloc space is therefore the first 512 GiB (one PGD entry) of Linux's 32 TiB.
 *
 * Lock order: the root lock (mm list, vmalloc list, kernel tables) → an mm's mmap_lock is never taken
 * under it; mmap_lock → zone and slab locks.
 */
import type { Ram } from '../../machine/ram.ts';
import { ACCESS_READ, ACCESS_WRITE, FAULT_PROTECTION, PageWalker, WALK_OK } from '../../machine/mmu.ts';
import { PTE_ACCESSED, PTE_DIRTY, PTE_GLOBAL, PTE_HI_NX, PTE_HUGE, PTE_PRESENT, PTE_WRITABLE } from '../../machine/pte.ts';
import { LockWord } from '../../sync/lock-word.ts';
import { assert } from '../../util/assert.ts';
import { ArgumentError } from '../../util/errors.ts';
import { OutOfMemoryError } from '../errors.ts';
import { H } from '../arena-header.ts';
import { GFP } from '../gfp.ts';
import type { Kernel } from '../kernel.ts';
import type { MemMap } from '../mem-map.ts';
import type { PageAllocator } from '../page-alloc.ts';
import type { KmemCache } from '../slab/cache.ts';
import { AddressSpace, MM, MMF, MM_BYTES } from './mm-struct.ts';
import { VM_OWNER_ROOT, VM_OWNER_VMA_INDEX } from './owners.ts';
import { PageTables } from './page-table.ts';
import { RMAP_ITEM_BYTES } from './rmap.ts';
import {
  DEFAULT_MAX_MAP_COUNT,
  DEFAULT_START_BRK,
  DIRECT_MAP_BASE,
  HPAGE_PMD_ORDER,
  MMAP_MIN_GAP,
  PAGE_SIZE,
  PMD_SIZE,
  PTRS_PER_TABLE,
  TASK_SIZE,
  VMALLOC_START,
} from './types.ts';
import type { AccessKind } from './types.ts';
import { VMA_ALIGN, VMA_BYTES, VmaFields } from './vma.ts';
import { VMAP_AREA_BYTES, vfree, vmalloc, vmapAreas } from './vmalloc.ts';
import { SegvError, SyscallError } from './errors.ts';
import { validateVm } from './validate.ts';
import { initThpSettings } from './thp-settings.ts';
import { khugepagedScan } from './khugepaged.ts';
import { compactMemory } from './compaction.ts';
import type { CompactResult } from './compaction.ts';
import { procMeminfo, procVmstat } from './proc.ts';
import type { Cpu } from '../../machine/cpu.ts';
import type { ShootdownCpu } from '../../machine/shootdown.ts';
import { TlbShootdown, pcidOf } from './tlb-shootdown.ts';
import { kernelFaultError } from '../secret/kernel-fault.ts';
import { SWAP_ROOT_WORD } from '../swap/types.ts';

export const ROOT = {
  LOCK: 0,
  STATE: 1,
  KERNEL_PGD: 2,
  FIRST_MM: 3,
  NEXT_PID: 4,
  ZERO_PFN: 5,
  FIRST_VMAP: 6,
  KERNEL_TABLES: 7,
  VMALLOC_PUD: 8,
  THP_ENABLED: 9,
  THP_USE_ZERO_PAGE: 10,
  THP_ALIGN: 11,
  HUGE_ZERO_PFN: 12,
  KHUGEPAGED_MAX_PTES_NONE: 13,
  KHUGEPAGED_PAGES_TO_SCAN: 14,
  KHUGEPAGED_CURSOR_MM: 15,
  THP_DEFRAG: 16,
  KCOMPACTD_WAKE: 17,
  KHUGEPAGED_DEFRAG: 18,
  SHOOTDOWN_PFN: 19,
  SHOOTDOWN_ORDER: 20,
  /** The KFENCE pool's first pfn (mm/secret/kfence.ts), 0 = none. */
  KFENCE_POOL: 21,
  /** The swap root page's pfn (mm/swap/types.ts), 0 = swap never enabled. */
  SWAP_ROOT: SWAP_ROOT_WORD,
} as const;
const COUNTERS_BYTE = 512;
/** f64 slot of khugepaged's cursor address in the root page. */
const KHUGEPAGED_CURSOR_F64 = 256 / 8;

/**
 * Event counters and gauges in the root page, by Linux's /proc/vmstat names (include/linux/vm_event_item.h,
 * mmzone.h's node_stat_item). nr_anon_pages counts base pages mapped (a THP as 512), nr_anon_transparent_hugepages
 * the THPs, nr_page_table_pages user page-table pages, nr_vmalloc pages backing vmalloc areas.
 */
export const VM_COUNTERS = [
  'pgfault',
  'nr_anon_pages',
  'nr_anon_transparent_hugepages',
  'nr_page_table_pages',
  'nr_vmalloc',
  'nr_zero_page_maps',
  'nr_huge_zero_page_maps',
  'thp_fault_alloc',
  'thp_fault_fallback',
  'thp_collapse_alloc',
  'thp_collapse_alloc_failed',
  'thp_split_page',
  'thp_split_pmd',
  'thp_zero_page_alloc',
  'khugepaged_pages_collapsed',
  'khugepaged_full_scans',
  'khugepaged_pages_scanned',
  'compact_stall',
  'compact_success',
  'compact_fail',
  'compact_migrate_scanned',
  'compact_free_scanned',
  'compact_isolated',
  'pgmigrate_success',
  'compact_daemon_wake',
  // kmem's own (Linux has no vmstat names for these): fork's copy-on-write and GUP references.
  'kmem_cow_copy',
  'kmem_cow_reuse',
  'kmem_fork_shared_pages',
  'kmem_fork_dma_copies',
  /** References held by get/pin_user_pages on anonymous pages (a pin counts GUP_PIN_COUNTING_BIAS). */
  'kmem_gup_refs',
  'direct_map_level2_splits',
  // Swap and reclaim (mm/swap/), Linux's names.
  'pswpin',
  'pswpout',
  'pgmajfault',
  'pgrefill',
  'pgactivate',
  'pgdeactivate',
  'pgscan_anon',
  'pgsteal_anon',
  'allocstall_movable',
  'unevictable_pgs_munlocked',
] as const;
export type VmCounter = (typeof VM_COUNTERS)[number];
const COUNTER_INDEX = new Map<string, number>(VM_COUNTERS.map((name, i) => [name, i]));

export interface AddressSpaceOptions {
  /** Where the heap starts (mm->start_brk). Default 0x600000. */
  startBrk?: number;
  /** vm.max_map_count for this mm. Default 65530. */
  maxMapCount?: number;
}

export interface VmStats {
  addressSpaces: number;
  anonPages: number;
  zeroPageMaps: number;
  userPageTablePages: number;
  kernelPageTablePages: number;
  vmallocAreas: number;
  vmallocPages: number;
  pgfault: number;
}

/** Drops the translations of [start, end) under the address space whose PML4 is at `cr3`. */
export type TlbFlushHook = (cr3: number, start: number, end: number) => void;

const READY = 1;
const INITIALISING = -1;

/**
 * One object of `cache` as a GFP_KERNEL allocation gets it (the shrinkers run first), or null when
 * memory is exhausted: the VM's syscalls turn that into ENOMEM, as Linux's vm_area_alloc failing
 * makes mmap, munmap, mprotect and fork return -ENOMEM. Any other error is a bug and goes on.
 */
export function allocObject(cache: KmemCache): number | null {
  try {
    return cache.alloc();
  } catch (error) {
    if (error instanceof OutOfMemoryError) return null;
    throw error;
  }
}

export class Vm {
  readonly ram: Ram;
  readonly pages: PageAllocator;
  readonly memMap: MemMap;
  /** Whole-RAM views: i32 and f64 fields of kernel objects, u32 page-table words. */
  readonly w: Int32Array;
  readonly u: Uint32Array;
  readonly f: Float64Array;
  readonly vmas: VmaFields;
  readonly tables: PageTables;
  readonly rootPfn: number;
  readonly lock: LockWord;
  readonly vmaCache: KmemCache;
  readonly mmCache: KmemCache;
  readonly rmapCache: KmemCache;
  readonly vmapCache: KmemCache;
  /** This worker's software page walker, for the kernel's own accesses to user memory. */
  readonly walker: PageWalker;
  private readonly rootWord: number;
  private readonly counterBase: number;
  private readonly wrappers = new Map<number, AddressSpace>();
  private readonly flushHooks: TlbFlushHook[] = [];
  private shootdownLayer: TlbShootdown | null = null;
  /** The emulated CPUs bound in this thread (cpu-binding.ts): flushed directly, not by shootdown. */
  private readonly localCpus: Cpu[] = [];
  private readonly localIndexes = new Set<number>();
  /** What a CPU of this thread does while it waits for a lock: answer shootdowns (AddressSpace.lockMmap). */
  readonly servicePending = (): void => {
    for (const cpu of this.localCpus) cpu.pollShootdown();
  };

  private constructor(
    readonly kernel: Kernel,
    rootPfn: number,
  ) {
    this.ram = kernel.ram;
    this.pages = kernel.pages;
    this.memMap = kernel.memMap;
    this.w = new Int32Array(this.ram.buffer);
    this.u = new Uint32Array(this.ram.buffer);
    this.f = new Float64Array(this.ram.buffer);
    this.vmas = new VmaFields(this.w, this.f);
    this.tables = new PageTables(this.u, this.pages);
    this.rootPfn = rootPfn;
    this.rootWord = (rootPfn * PAGE_SIZE) / 4;
    this.counterBase = (rootPfn * PAGE_SIZE + COUNTERS_BYTE) / 8;
    // Its holder recorded; a dead holder's lock is refused, not taken over (nothing rebuilds the VM root).
    this.lock = new LockWord(this.w, this.rootWord + ROOT.LOCK, kernel.lockOwner, null, 'refuse');
    this.walker = new PageWalker(this.ram);
    const slab = kernel.slab;
    const ready = this.root(ROOT.STATE) === READY;
    const cache = (name: string, size: number, align: number): KmemCache =>
      ready ? slab.cache(name) : slab.createCache(name, size, { align });
    this.vmaCache = cache('vm_area_struct', VMA_BYTES, VMA_ALIGN);
    this.mmCache = cache('mm_struct', MM_BYTES, 64);
    this.rmapCache = cache('anon_rmap_item', RMAP_ITEM_BYTES, 8);
    this.vmapCache = cache('vmap_area', VMAP_AREA_BYTES, 8);
  }

  /** The kernel's Vm: made the first time any worker asks, found again by every later one. */
  static attach(kernel: Kernel): Vm {
    const header = kernel.header.words;
    for (let spins = 0; ; spins++) {
      const pfn = Atomics.compareExchange(header, H.VM_ROOT_PFN, 0, INITIALISING);
      if (pfn === 0) break;
      if (pfn > 0) {
        const vm = new Vm(kernel, pfn);
        for (let wait = 0; Atomics.load(vm.w, vm.rootWord + ROOT.STATE) !== READY; wait++) {
          assert(wait < 1e8, 'virtual memory root never became ready: expected the worker that made it to finish');
        }
        return vm;
      }
      assert(spins < 1e8, 'virtual memory root stuck initialising: expected the worker making it to finish');
    }
    const pfn = kernel.pages.allocPages(0, GFP.KERNEL | GFP.ZERO, VM_OWNER_ROOT);
    assert(pfn !== null, 'no page for the virtual memory root');
    const vm = new Vm(kernel, pfn);
    vm.initKernelTables();
    vm.setRoot(ROOT.NEXT_PID, 1);
    initThpSettings(vm);
    const nrCpus = kernel.header.get(H.NR_CPUS);
    vm.setRoot(ROOT.SHOOTDOWN_PFN, TlbShootdown.allocBlock(kernel.pages, nrCpus));
    vm.setRoot(ROOT.SHOOTDOWN_ORDER, TlbShootdown.blockOrder(nrCpus));
    Atomics.store(vm.w, vm.rootWord + ROOT.STATE, READY);
    Atomics.store(header, H.VM_ROOT_PFN, pfn);
    return vm;
  }

  addRoot(i: number, delta: number): void {
    this.w[this.rootWord + i] = (this.w[this.rootWord + i] as number) + delta;
  }

  root(i: number): number {
    return this.w[this.rootWord + i] as number;
  }
  setRoot(i: number, value: number): void {
    this.w[this.rootWord + i] = value;
  }

  counter(name: VmCounter): number {
    return this.f[this.counterBase + (COUNTER_INDEX.get(name) as number)] as number;
  }
  count(name: VmCounter, delta = 1): void {
    const i = this.counterBase + (COUNTER_INDEX.get(name) as number);
    this.f[i] = (this.f[i] as number) + delta;
  }

  /** khugepaged's cursor: the address it resumes at in the mm ROOT.KHUGEPAGED_CURSOR_MM names. */
  get khugepagedCursorAddr(): number {
    return this.f[(this.rootPfn * PAGE_SIZE) / 8 + KHUGEPAGED_CURSOR_F64] as number;
  }
  set khugepagedCursorAddr(vaddr: number) {
    this.f[(this.rootPfn * PAGE_SIZE) / 8 + KHUGEPAGED_CURSOR_F64] = vaddr;
  }

  /** kcompactd: when a THP fault deferred compaction (defrag=defer), compacts for a 2 MiB block now. Returns whether it ran. */
  kcompactd(): boolean {
    if (this.root(ROOT.KCOMPACTD_WAKE) === 0) return false;
    this.setRoot(ROOT.KCOMPACTD_WAKE, 0);
    this.count('compact_daemon_wake');
    compactMemory(this, HPAGE_PMD_ORDER, null);
    return true;
  }

  /** Compacts memory for a block of `order`; −1 compacts every zone whole (/proc/sys/vm/compact_memory). */
  compact(order: number = HPAGE_PMD_ORDER): CompactResult {
    return compactMemory(this, order, null);
  }

  /** One khugepaged pass (khugepaged.ts); returns the ranges collapsed. */
  khugepaged(): number {
    return khugepagedScan(this);
  }

  get kernelPgdPfn(): number {
    return this.root(ROOT.KERNEL_PGD);
  }
  get zeroPfn(): number {
    return this.root(ROOT.ZERO_PFN);
  }

  /** A block for a VMA index of 2^order pages; null when memory is exhausted. */
  allocIndexBlock(order: number): number | null {
    return this.pages.tryAllocPages(order, GFP.KERNEL | GFP.NORETRY | GFP.NOWARN, VM_OWNER_VMA_INDEX);
  }

  /**
   * init_mm: the direct map of all RAM at DIRECT_MAP_BASE, in 2 MiB pages where RAM allows and 4 KiB
   * pages for a tail, as PAGE_KERNEL_LARGE / PAGE_KERNEL (present, writable, global, accessed,
   * dirty, no-execute, supervisor-only); and vmalloc's PUD, empty. The shared zero page.
   */
  private initKernelTables(): void {
    const t = this.tables;
    const take = (): number => {
      const pfn = t.allocTable();
      assert(pfn !== null, 'no page for the kernel page tables');
      this.addRoot(ROOT.KERNEL_TABLES, 1);
      return pfn;
    };
    const pgd = take();
    this.setRoot(ROOT.KERNEL_PGD, pgd);
    const flags = PTE_PRESENT | PTE_WRITABLE | PTE_ACCESSED | PTE_DIRTY | PTE_GLOBAL;
    const ramBytes = this.ram.sizeBytes;
    const onTable = (): void => {
      this.addRoot(ROOT.KERNEL_TABLES, 1);
    };
    for (let paddr = 0; paddr < ramBytes; ) {
      const vaddr = DIRECT_MAP_BASE + paddr;
      if (paddr % PMD_SIZE === 0 && paddr + PMD_SIZE <= ramBytes) {
        const s = t.entry(pgd, vaddr, 2, true, onTable);
        assert(s >= 0, 'no page for the direct map');
        this.u[s + 1] = PTE_HI_NX >>> 0;
        this.u[s] = (paddr | flags | PTE_HUGE) >>> 0;
        paddr += PMD_SIZE;
      } else {
        const s = t.entry(pgd, vaddr, 1, true, onTable);
        assert(s >= 0, 'no page for the direct map');
        this.u[s + 1] = PTE_HI_NX >>> 0;
        this.u[s] = (paddr | flags) >>> 0;
        paddr += PAGE_SIZE;
      }
    }
    const vmallocPud = take();
    const s = t.slot(pgd, VMALLOC_START, 4);
    this.u[s] = ((vmallocPud * PAGE_SIZE) | PTE_PRESENT | PTE_WRITABLE | PTE_ACCESSED) >>> 0;
    this.setRoot(ROOT.VMALLOC_PUD, vmallocPud);
    const zero = this.pages.allocPages(0, GFP.KERNEL | GFP.ZERO, VM_OWNER_ROOT);
    assert(zero !== null, 'no page for the zero page');
    this.setRoot(ROOT.ZERO_PFN, zero);
  }

  /** The kernel-virtual address of a physical address in the direct map (__va). */
  directMapAddress(paddr: number): number {
    this.ram.checkRange(paddr, 0);
    return DIRECT_MAP_BASE + paddr;
  }

  /** A new, empty user address space (mm_alloc + pgd_alloc), on the list of mms. */
  createAddressSpace(options: AddressSpaceOptions = {}): AddressSpace {
    const startBrk = options.startBrk ?? DEFAULT_START_BRK;
    const maxMapCount = options.maxMapCount ?? DEFAULT_MAX_MAP_COUNT;
    if (!Number.isInteger(startBrk) || startBrk % PAGE_SIZE !== 0 || startBrk <= 0 || startBrk >= TASK_SIZE - MMAP_MIN_GAP) {
      throw new ArgumentError(`startBrk 0x${startBrk.toString(16)}: expected a page-aligned user address below mmap_base`);
    }
    if (!Number.isInteger(maxMapCount) || maxMapCount < 1 || maxMapCount > DEFAULT_MAX_MAP_COUNT) {
      throw new ArgumentError(`maxMapCount ${maxMapCount}: expected an integer in [1, ${DEFAULT_MAX_MAP_COUNT}]`);
    }
    // mm_alloc + pgd_alloc + the VMA index + mm_cpumask: each may fail; whatever was taken goes back
    // and the caller sees ENOMEM (as fork(2) and execve(2) report a failed mm_alloc), nothing changed.
    const paddr = allocObject(this.mmCache);
    const pgd = paddr === null ? null : this.tables.allocTable();
    const index = pgd === null ? null : this.allocIndexBlock(0);
    const cpumask = index === null ? null : this.kernel.tryKmalloc(4 * this.shootdown.maskWords, GFP.ZERO);
    if (paddr === null || pgd === null || index === null || cpumask === null) {
      if (index !== null) this.pages.freePages(index, 0, VM_OWNER_VMA_INDEX);
      if (pgd !== null) this.tables.freeTable(pgd);
      if (paddr !== null) this.mmCache.free(paddr);
      const missing = paddr === null ? 'an mm_struct' : pgd === null ? 'a PGD' : index === null ? 'the VMA index' : 'the CPU mask';
      throw new SyscallError('mm_alloc', 'ENOMEM', `no memory for a new address space (${missing})`);
    }
    // Share the kernel half: PGD entries 256..511 (clone_pgd_range in pgd_alloc).
    const kernelBase = (this.kernelPgdPfn * PAGE_SIZE) / 4;
    const userBase = (pgd * PAGE_SIZE) / 4;
    this.u.copyWithin(userBase + PTRS_PER_TABLE, kernelBase + PTRS_PER_TABLE, kernelBase + 2 * PTRS_PER_TABLE);
    this.w.fill(0, paddr / 4, (paddr + MM_BYTES) / 4);
    const mm = new AddressSpace(this, paddr);
    mm.setWord(MM.PGD, pgd);
    mm.setWord(MM.INDEX_PFN, index);
    mm.setWord(MM.INDEX_ORDER, 0);
    mm.setWord(MM.NEXT_ANON_VMA, 1);
    mm.setWord(MM.MAX_MAP_COUNT, maxMapCount);
    mm.setNum(MMF.START_BRK, startBrk);
    mm.setNum(MMF.BRK, startBrk);
    mm.setNum(MMF.MMAP_BASE, TASK_SIZE - MMAP_MIN_GAP);
    mm.setNum(MMF.PGTABLES, 1);
    mm.setWord(MM.CPUMASK, cpumask);
    this.count('nr_page_table_pages', 1);
    this.lock.acquire();
    try {
      mm.setWord(MM.PID, this.root(ROOT.NEXT_PID));
      this.setRoot(ROOT.NEXT_PID, mm.pid + 1);
      const first = this.root(ROOT.FIRST_MM);
      mm.setWord(MM.NEXT, first);
      if (first !== 0) this.w[first / 4 + MM.PREV] = paddr;
      mm.setWord(MM.PREV, 0);
      this.setRoot(ROOT.FIRST_MM, paddr);
    } finally {
      this.lock.release();
    }
    this.wrappers.set(paddr, mm);
    return mm;
  }

  /** Every live address space, newest first. */
  addressSpaces(): AddressSpace[] {
    const out: AddressSpace[] = [];
    for (let p = this.root(ROOT.FIRST_MM), n = 0; p !== 0; p = this.w[p / 4 + MM.NEXT] as number, n++) {
      assert(n < 1 << 24, 'the list of mms does not end');
      out.push(this.wrap(p));
    }
    return out;
  }

  /** The address space of `pid`, or undefined. */
  addressSpace(pid: number): AddressSpace | undefined {
    return this.addressSpaces().find((mm) => mm.pid === pid);
  }

  wrap(paddr: number): AddressSpace {
    let mm = this.wrappers.get(paddr);
    if (mm === undefined) {
      mm = new AddressSpace(this, paddr);
      this.wrappers.set(paddr, mm);
    }
    return mm;
  }

  /**
   * Registers a TLB-shootdown hook: `flushTlb` calls it after every change that removes or narrows a
   * translation, before the call that made the change returns (the machine's CPUs plug in here).
   */
  onTlbFlush(hook: TlbFlushHook): () => void {
    this.flushHooks.push(hook);
    return () => {
      const i = this.flushHooks.indexOf(hook);
      if (i >= 0) this.flushHooks.splice(i, 1);
    };
  }

  /**
   * flush_tlb_mm_range: every CPU that may cache mm's translations drops those of [start, end) before
   * this returns: this thread's CPUs directly (the hooks), the other threads' CPUs in mm's CPU mask
   * by a shootdown that waits for each to acknowledge (tlb-shootdown.ts).
   */
  flushTlb(mm: AddressSpace, start: number, end: number): void {
    for (const hook of this.flushHooks) hook(mm.cr3, start, end);
    const mask = mm.cpumaskBase;
    if (mask !== 0) this.shootdown.send(this.initiator(), mask, this.localIndexes, pcidOf(mm), start, end);
  }

  /** A change to init_mm's tables (vmalloc, the direct map): every CPU drops its translations of the range. */
  flushKernelTlb(start: number, end: number): void {
    for (const hook of this.flushHooks) hook(this.kernelPgdPfn * PAGE_SIZE, start, end);
    const sd = this.shootdown;
    sd.send(this.initiator(), sd.boundMask, this.localIndexes, null, start, end);
  }

  /** The TLB-shootdown state in the arena (its block is made with the VM). */
  get shootdown(): TlbShootdown {
    if (this.shootdownLayer === null) {
      this.shootdownLayer = new TlbShootdown(this.w, this.root(ROOT.SHOOTDOWN_PFN), this.kernel.header.get(H.NR_CPUS));
    }
    return this.shootdownLayer;
  }

  /** Who sends this thread's shootdowns: its bound CPU of this thread's slot, else a TLB-less stand-in for the slot. */
  private initiator(): ShootdownCpu {
    const index = this.kernel.thisCpu();
    const own = this.localCpus.find((cpu) => cpu.index === index);
    if (own !== undefined) return own;
    const domain = this.shootdown.domain;
    return { index, pollShootdown: () => domain.acknowledgePending(index) };
  }

  /** A CPU of this thread joins (cpu-binding.ts): it answers shootdowns and kernel flushes reach it. */
  addLocalCpu(cpu: Cpu): void {
    const sd = this.shootdown;
    if (cpu.index < sd.nrCpus) {
      cpu.attachShootdown(sd.domain);
      sd.join(cpu.index);
    }
    this.localCpus.push(cpu);
    this.localIndexes.add(cpu.index);
  }

  /** A CPU of this thread leaves: its TLB is flushed and it is out of every mask. */
  removeLocalCpu(cpu: Cpu): void {
    const i = this.localCpus.indexOf(cpu);
    if (i < 0) return;
    this.localCpus.splice(i, 1);
    if (!this.localCpus.some((other) => other.index === cpu.index)) {
      this.localIndexes.delete(cpu.index);
      if (cpu.index < this.shootdown.nrCpus) this.cpuOffline(cpu.index);
    }
    cpu.flushAll(false);
  }

  /** CPU slot `cpu` went offline (kernel.offlineCpu): out of every mask, and never waited for. */
  cpuOffline(cpu: number): void {
    const masks = this.addressSpaces()
      .map((mm) => mm.cpumaskBase)
      .filter((mask) => mask !== 0);
    this.shootdown.offline(cpu, masks);
  }

  /** vmalloc(sizeBytes): virtually contiguous kernel memory with a trailing guard page; null when out of memory. */
  vmalloc(sizeBytes: number): number | null {
    return vmalloc(this, sizeBytes);
  }

  vfree(addr: number): void {
    vfree(this, addr);
  }

  /**
   * The kernel reading its own memory through its page tables (a supervisor access through init_mm):
   * the direct map, vmalloc. A fault is a SegvError; in a vmalloc guard page its reason is 'guard-page'.
   */
  kernelRead(vaddr: number, length: number): Uint8Array {
    const out = new Uint8Array(length);
    for (let done = 0; done < length; ) {
      const n = Math.min(length - done, PAGE_SIZE - ((vaddr + done) % PAGE_SIZE));
      const p = this.kernelPhysical(vaddr + done, 'read');
      out.set(this.ram.bytes.subarray(p, p + n), done);
      done += n;
    }
    return out;
  }

  kernelWrite(vaddr: number, bytes: Uint8Array): void {
    for (let done = 0; done < bytes.length; ) {
      const n = Math.min(bytes.length - done, PAGE_SIZE - ((vaddr + done) % PAGE_SIZE));
      this.ram.bytes.set(bytes.subarray(done, done + n), this.kernelPhysical(vaddr + done, 'write'));
      done += n;
    }
  }

  private kernelPhysical(vaddr: number, access: 'read' | 'write'): number {
    const walker = this.walker;
    const result = walker.walk(this.kernelPgdPfn * PAGE_SIZE, 0, vaddr, access === 'write' ? ACCESS_WRITE : ACCESS_READ, false);
    if (result === WALK_OK) return walker.frame + (vaddr % 2 ** walker.pageShift);
    const secret = kernelFaultError(this, vaddr, access);
    if (secret !== null) throw secret;
    // A present entry that refuses the access is a protection fault, as for a CPU's (cpu-binding.ts).
    throw this.kernelSegv(vaddr, access, result === FAULT_PROTECTION);
  }

  /**
   * The SegvError of a refused access to a kernel-half address (at or above TASK_SIZE), from the
   * kernel's walks or a CPU's: nothing there is demand-faulted (Linux's do_kern_addr_fault), so a
   * present entry that refuses is a protection fault, and an absent one is a vmalloc area's guard
   * page or nothing mapped.
   */
  kernelSegv(vaddr: number, access: AccessKind, present: boolean): SegvError {
    if (present) return new SegvError(vaddr, access, 'protection');
    const guard = vmapAreas(this).some((a) => vaddr >= a.start + a.sizeBytes - PAGE_SIZE && vaddr < a.start + a.sizeBytes);
    return new SegvError(vaddr, access, guard ? 'guard-page' : 'not-mapped');
  }

  stats(): VmStats {
    return {
      addressSpaces: this.addressSpaces().length,
      anonPages: this.counter('nr_anon_pages'),
      zeroPageMaps: this.counter('nr_zero_page_maps'),
      userPageTablePages: this.counter('nr_page_table_pages'),
      kernelPageTablePages: this.root(ROOT.KERNEL_TABLES),
      vmallocAreas: vmapAreas(this).length,
      vmallocPages: this.counter('nr_vmalloc'),
      pgfault: this.counter('pgfault'),
    };
  }

  /** /proc/meminfo (the lines kmem models). */
  meminfo(): string {
    return procMeminfo(this);
  }

  /** /proc/vmstat (the counters kmem keeps). */
  vmstat(): string {
    return procVmstat(this);
  }

  /** Checks every address space, page table, reverse map and vmalloc area (validate.ts). */
  validate(): void {
    validateVm(this);
  }

  /** Takes a torn-down mm off the list and frees its object (the last step of exit_mmap/mmdrop). */
  releaseAddressSpace(mm: AddressSpace): void {
    this.lock.acquire();
    try {
      const next = mm.word(MM.NEXT);
      const prev = mm.word(MM.PREV);
      if (prev !== 0) this.w[prev / 4 + MM.NEXT] = next;
      else this.setRoot(ROOT.FIRST_MM, next);
      if (next !== 0) this.w[next / 4 + MM.PREV] = prev;
    } finally {
      this.lock.release();
    }
    this.wrappers.delete(mm.paddr);
    this.kernel.kfree(mm.word(MM.CPUMASK));
    this.mmCache.free(mm.paddr);
  }
}
