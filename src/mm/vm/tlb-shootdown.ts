/**
 * The kernel's TLB shootdown across worker threads (arch/x86/mm/tlb.c's flush_tlb_mm_range and
 * native_flush_tlb_multi): a change that removes or narrows a translation does not return until
 * every CPU that may cache the mm's translations has flushed them. The IPI-like mechanism is
 * machine/shootdown.ts's ShootdownDomain; which CPUs to ask is each mm's CPU mask, kept here.
 *
 * LAYOUT
 *   the shootdown block: one buddy block, made when the VM is (its pfn and order in the VM root,
 *     ROOT.SHOOTDOWN_PFN / ROOT.SHOOTDOWN_ORDER), i32 words:
 *       [0, D)          the ShootdownDomain's words, D = ShootdownDomain.wordsNeeded(nrCpus)
 *       [D, D + M)      the bound mask: CPUs that joined (bindCpu) and are not offline; a change to
 *                       the kernel's own mappings (vmalloc) is shot down on all of them
 *     where nrCpus is the kernel's number of CPU slots and M = ceil(nrCpus / 32)
 *   an mm's CPU mask (mm_cpumask): M i32 words from kmalloc, zeroed, its paddr in the mm's word
 *     MM.CPUMASK; bit c set when CPU c switched to the mm (switch_mm) since it last left the mask.
 *
 * Invariants: a CPU that holds a translation of mm in its TLB has its bit in mm's mask (a CPU sets
 * it before loading CR3, and with PCIDs it keeps the bit after switching away, since the entries
 * stay tagged in its TLB); an offlined CPU is in no mask (offlineCpu clears it everywhere and
 * acknowledges what was pending for it, so no initiator waits for it).
 * Locking: mask bits change with Atomics.or / Atomics.and; a shootdown is sent under the mm's
 * mmap_lock by its caller, and a CPU waiting for an mmap_lock keeps answering shootdowns
 * (AddressSpace.lockMmap), as a Linux CPU spinning on a lock still takes IPIs.
 * Host-side: nothing but the views; the bound CPUs of this thread live in the Vm.
 */
import { ShootdownDomain } from '../../machine/shootdown.ts';
import type { ShootdownCpu, ShootdownRequest } from '../../machine/shootdown.ts';
import { MAX_PCID } from '../../machine/tlb.ts';
import { assert } from '../../util/assert.ts';
import { GFP } from '../gfp.ts';
import { VM_OWNER_ROOT } from './owners.ts';
import { PAGE_SIZE } from './types.ts';

/** arch/x86/mm/tlb.c: above this many pages a range flush becomes a full flush. */
export const TLB_SINGLE_PAGE_FLUSH_CEILING = 33;

/** The PCID kmem gives an mm: (pid mod 4095) + 1, so that 0 keeps meaning "PCIDs off". */
export function pcidOf(mm: { readonly pid: number }): number {
  return (mm.pid % MAX_PCID) + 1;
}

export class TlbShootdown {
  readonly domain: ShootdownDomain;
  /** i32 words of one CPU mask. */
  readonly maskWords: number;
  private readonly boundBase: number;

  constructor(
    private readonly w: Int32Array,
    blockPfn: number,
    readonly nrCpus: number,
  ) {
    const base = (blockPfn * PAGE_SIZE) / 4;
    const domainWords = ShootdownDomain.wordsNeeded(nrCpus);
    this.domain = new ShootdownDomain(w.subarray(base, base + domainWords), nrCpus);
    this.maskWords = Math.ceil(nrCpus / 32);
    this.boundBase = base + domainWords;
  }

  /** The order of the block the shootdown needs for `nrCpus` CPUs. */
  static blockOrder(nrCpus: number): number {
    const bytes = 4 * (ShootdownDomain.wordsNeeded(nrCpus) + Math.ceil(nrCpus / 32));
    return Math.max(0, Math.ceil(Math.log2(bytes / PAGE_SIZE)));
  }

  /** Allocates the zeroed block; returns its pfn. */
  static allocBlock(pages: { allocPages(order: number, gfp: number, owner: number): number | null }, nrCpus: number): number {
    const pfn = pages.allocPages(TlbShootdown.blockOrder(nrCpus), GFP.KERNEL | GFP.ZERO, VM_OWNER_ROOT);
    assert(pfn !== null, 'no memory for the TLB-shootdown block');
    return pfn;
  }

  setBit(maskBase: number, cpu: number): void {
    this.checkCpu(cpu);
    Atomics.or(this.w, maskBase + (cpu >>> 5), 1 << (cpu & 31));
  }

  clearBit(maskBase: number, cpu: number): void {
    this.checkCpu(cpu);
    Atomics.and(this.w, maskBase + (cpu >>> 5), ~(1 << (cpu & 31)));
  }

  hasBit(maskBase: number, cpu: number): boolean {
    return (Atomics.load(this.w, maskBase + (cpu >>> 5)) & (1 << (cpu & 31))) !== 0;
  }

  /** The CPUs of a mask, ascending. */
  cpus(maskBase: number): number[] {
    const out: number[] = [];
    for (let i = 0; i < this.maskWords; i++) {
      let bits = Atomics.load(this.w, maskBase + i);
      while (bits !== 0) {
        const low = 31 - Math.clz32(bits & -bits);
        out.push(i * 32 + low);
        bits &= bits - 1;
      }
    }
    return out;
  }

  /** The word index of the bound mask. */
  get boundMask(): number {
    return this.boundBase;
  }

  /** A CPU joins (bindCpu): kernel-mapping shootdowns reach it from now on. */
  join(cpu: number): void {
    this.setBit(this.boundBase, cpu);
  }

  /**
   * CPU `cpu` went offline: out of the bound mask and every mm mask in `mmMasks`, and whatever was
   * asked of it is acknowledged (its TLB is gone), so a shootdown in flight stops waiting for it.
   */
  offline(cpu: number, mmMasks: readonly number[]): void {
    this.clearBit(this.boundBase, cpu);
    for (const mask of mmMasks) this.clearBit(mask, cpu);
    this.domain.acknowledgePending(cpu);
  }

  /**
   * Flushes [start, end) of the mm with PCID `pcid` (null: the kernel's global mappings) on every CPU
   * of `maskBase` except `skip` (this thread's CPUs, flushed directly), through `initiator`.
   */
  send(initiator: ShootdownCpu, maskBase: number, skip: ReadonlySet<number>, pcid: number | null, start: number, end: number): number {
    const targets = this.cpus(maskBase).filter((cpu) => !skip.has(cpu));
    if (targets.length === 0) return 0;
    const pages = Math.ceil((end - start) / PAGE_SIZE);
    const request: ShootdownRequest =
      pcid === null
        ? { kind: 'all' }
        : pages <= TLB_SINGLE_PAGE_FLUSH_CEILING
          ? { kind: 'pages', pcid, vaddr: start, pages, pageShift: 12 }
          : { kind: 'pcid', pcid };
    this.domain.shootdown(initiator, targets, request);
    return targets.length;
  }

  private checkCpu(cpu: number): void {
    assert(Number.isInteger(cpu) && cpu >= 0 && cpu < this.nrCpus, `CPU ${cpu}: expected 0 … ${this.nrCpus - 1}`);
  }
}
