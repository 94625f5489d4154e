/**
 * The kernel's side of an emulated CPU (machine/cpu.ts): its page-fault handler, its address-space
 * switch, and its TLB flushes.
 *
 *   const binding = bindCpu(kernel.vm, cpu);
 *   binding.switchTo(mm);          // CR3 = mm's PGD, PCID = the mm's (pid mod 4095) + 1, user mode
 *   cpu.store32(addr, 7);          // a demand fault: the CPU calls the handler, which maps a page
 *
 * Faults: the handler finds the mm whose PGD is the fault's CR3, takes its mmap_lock and runs
 * handleFault (fault.ts): 'retry' when it mapped something, the SegvError when the access is refused.
 *
 * Flushes (flush_tlb_mm_range): every change that removes or narrows a translation calls
 * Vm.flushTlb before returning; here that invalidates the range in this CPU's TLB, page by page up to
 * Linux's tlb_single_page_flush_ceiling (33 pages, arch/x86/mm/tlb.c), else the whole PCID. A change
 * to init_mm's (global) mappings flushes everything, globals included. That covers the CPUs of
 * the calling thread; CPUs on other threads are reached by a shootdown (tlb-shootdown.ts): binding
 * joins the CPU to the VM's shootdown domain as CPU `cpu.index` (give it this thread's CPU slot,
 * kernel.thisCpu(), so that offlineCpu of the slot takes it out), and switchTo sets its bit in the
 * mm's CPU mask before loading CR3.
 *
 * PCIDs: an mm's PCID is (pid mod 4095) + 1, so two address spaces whose pids differ by a multiple
 * of 4095 share one, and entries the CPU tagged with it for one are no translations of the other.
 * As Linux's switch_mm_irqs_off (arch/x86/mm/tlb.c: choose_new_asid compares the ctx_id each of
 * the CPU's ASID slots last held with the next mm's and flushes the slot when they differ), this
 * binding records which mm (its pid, never reused) each PCID last served on this CPU, and a switch
 * to a PCID last used by another mm, or never used here, flushes it. Host-side, like the TLB.
 */
import type { Cpu } from '../../machine/cpu.ts';
import type { FaultResolution, PageFault } from '../../machine/mmu.ts';
import { kernelFaultError } from '../secret/kernel-fault.ts';
import { SegvError } from './errors.ts';
import { handleFault } from './fault.ts';
import type { AddressSpace } from './mm-struct.ts';
import { MAX_PCID } from '../../machine/tlb.ts';
import { TLB_SINGLE_PAGE_FLUSH_CEILING, pcidOf } from './tlb-shootdown.ts';
import { PAGE_SIZE, TASK_SIZE } from './types.ts';
import type { Vm } from './vm.ts';

export { TLB_SINGLE_PAGE_FLUSH_CEILING, pcidOf };

export class CpuBinding {
  private readonly release: () => void;
  /** Per PCID, the pid of the mm this CPU last switched to with it (−1: none since binding). */
  private readonly pcidServed = new Float64Array(MAX_PCID + 1).fill(-1);

  constructor(
    readonly vm: Vm,
    readonly cpu: Cpu,
  ) {
    cpu.setFaultHandler((fault) => this.onFault(fault));
    this.release = vm.onTlbFlush((cr3, start, end) => this.flush(cr3, start, end));
    vm.addLocalCpu(cpu);
  }

  /**
   * Runs user code of `mm` on this CPU from now on (switch_mm): into mm's CPU mask, then CR3,
   * flushing the PCID first when another mm used it here last (see PCIDs above).
   */
  switchTo(mm: AddressSpace): void {
    if (mm.cpumaskBase !== 0 && this.cpu.index < this.vm.shootdown.nrCpus) this.vm.shootdown.setBit(mm.cpumaskBase, this.cpu.index);
    const pcid = pcidOf(mm);
    const flush = this.pcidServed[pcid] !== mm.pid;
    this.pcidServed[pcid] = mm.pid;
    this.cpu.setCr3(mm.cr3, pcid, { flush });
    this.cpu.setUser(true);
  }

  /** Detaches the CPU from the kernel: no handler, no more flushes; its TLB is flushed and it leaves every mask. */
  unbind(): void {
    this.cpu.setFaultHandler(null);
    this.release();
    this.vm.removeLocalCpu(this.cpu);
  }

  private onFault(fault: PageFault): FaultResolution {
    // A kernel access to a secret frame through the direct map (mm/secret): the typed error.
    const secret = kernelFaultError(this.vm, fault.vaddr, fault.access);
    if (secret !== null) return secret;
    // The kernel half (the direct map, vmalloc) is never demand-faulted.
    if (fault.vaddr >= TASK_SIZE) return this.vm.kernelSegv(fault.vaddr, fault.access, fault.reason === 'protection');
    const mm = this.vm.addressSpaces().find((candidate) => candidate.cr3 === fault.cr3);
    if (mm === undefined) return 'raise';
    mm.lockMmap();
    try {
      handleFault(mm, fault.vaddr, fault.access);
      return 'retry';
    } catch (error) {
      if (error instanceof SegvError) return error;
      throw error;
    } finally {
      mm.lock.release();
    }
  }

  private flush(cr3: number, start: number, end: number): void {
    const cpu = this.cpu;
    if (cr3 === this.vm.kernelPgdPfn * PAGE_SIZE) {
      cpu.flushAll(false);
      return;
    }
    const mm = this.vm.addressSpaces().find((candidate) => candidate.cr3 === cr3);
    if (mm === undefined) return;
    const pcid = pcidOf(mm);
    const pages = Math.ceil((end - start) / PAGE_SIZE);
    if (cpu.cr3 === cr3 && cpu.pcid === pcid && pages <= TLB_SINGLE_PAGE_FLUSH_CEILING) {
      for (let p = 0; p < pages; p++) cpu.invlpg(start + p * PAGE_SIZE);
    } else {
      cpu.flushPcid(pcid);
    }
  }
}

export function bindCpu(vm: Vm, cpu: Cpu): CpuBinding {
  return new CpuBinding(vm, cpu);
}
