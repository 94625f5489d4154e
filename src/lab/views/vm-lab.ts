/**
 * The explorer's virtual-memory machine: a kmem kernel with one process whose address space has a
 * heap, a data mapping written page by page, a mapping only read (the zero pages) and a small
 * read-only mapping, and an emulated CPU (machine/cpu.ts, Skylake's TLB geometry) bound to it that
 * runs loads over the data. `pageSize` picks the data's pages: '4k' turns THP off
 * (transparent_hugepage/enabled = never), '2m' leaves it on (always, the default) with a 2 MiB
 * multiple so Linux 6.12's alignment rule aligns the mapping and every fault maps a huge page.
 *
 * Everything drawn comes from the kernel and the CPU as they are: the VMAs and page tables from the
 * arena (page-table-map.ts), the TLB arrays and counters from the CPU.
 */
import { Cpu } from '../../machine/cpu.ts';
import type { CpuStats } from '../../machine/cpu.ts';
import { presetByName } from '../../machine/tlb-presets.ts';
import type { TlbArray } from '../../machine/tlb.ts';
import { Kernel } from '../../mm/kernel.ts';
import { bindCpu } from '../../mm/vm/cpu-binding.ts';
import type { AddressSpace } from '../../mm/vm/mm-struct.ts';
import { setThpSettings } from '../../mm/vm/thp-settings.ts';
import { MAP, PAGE_SIZE, PROT, formatVaddr } from '../../mm/vm/types.ts';
import { Prng } from '../../util/prng.ts';
import { ArgumentError } from '../../util/errors.ts';

export type VmPageSize = '4k' | '2m';

export interface VmLabOptions {
  pageSize: VmPageSize;
  seed: number;
  /** The data mapping the loads run over; a multiple of 2 MiB. Default 16 MiB. */
  dataBytes?: number;
}

export interface VmaRow {
  start: string;
  end: string;
  perms: string;
  sizeBytes: number;
  name: string;
}

const MIB = 1 << 20;
const ANON_PRIVATE = MAP.PRIVATE | MAP.ANONYMOUS;

export class VmLab {
  /** Loads run since boot, and the CPU's counters when they started (after the setup's faults). */
  loads = 0;
  readonly baseline: CpuStats;
  private readonly rng: Prng;

  private constructor(
    readonly kernel: Kernel,
    readonly mm: AddressSpace,
    readonly cpu: Cpu,
    readonly pageSize: VmPageSize,
    readonly dataStart: number,
    readonly dataBytes: number,
    readonly named: ReadonlyMap<number, string>,
    seed: number,
  ) {
    this.rng = new Prng(seed);
    this.baseline = cpu.stats();
  }

  static boot(options: VmLabOptions): VmLab {
    const dataBytes = options.dataBytes ?? 16 * MIB;
    if (dataBytes <= 0 || dataBytes % (2 * MIB) !== 0) throw new ArgumentError(`VM lab data mapping of ${dataBytes} bytes: expected a positive multiple of 2 MiB`);
    const kernel = Kernel.boot({ ramBytes: dataBytes + 48 * MIB });
    if (options.pageSize === '4k') setThpSettings(kernel.vm, { enabled: 'never' });
    const mm = kernel.vm.createAddressSpace();
    const cpu = new Cpu(kernel.ram, { preset: presetByName('skylake') });
    bindCpu(kernel.vm, cpu).switchTo(mm);
    const named = new Map<number, string>();
    // The heap: 40 KiB past the break, written.
    const heap = mm.brk(0);
    mm.brk(heap + 10 * PAGE_SIZE);
    for (let a = heap; a < heap + 10 * PAGE_SIZE; a += PAGE_SIZE) cpu.store32(a, a);
    // The data the loads run over, written page by page (so every page is the process's own).
    const data = mm.mmap(0, dataBytes, PROT.READ | PROT.WRITE, ANON_PRIVATE);
    named.set(data, 'data (written)');
    for (let a = data; a < data + dataBytes; a += PAGE_SIZE) cpu.store32(a, a);
    // 4 MiB read-only, read: every entry maps the zero page (or the huge zero page). Its own
    // protection keeps it from merging with the data mapping next to it.
    const zeroes = mm.mmap(0, 4 * MIB, PROT.READ, ANON_PRIVATE);
    named.set(zeroes, 'read-only, read (zero pages)');
    for (let a = zeroes; a < zeroes + 4 * MIB; a += PAGE_SIZE) cpu.load32(a);
    // Three executable pages, one read.
    const text = mm.mmap(0, 3 * PAGE_SIZE, PROT.READ | PROT.EXEC, ANON_PRIVATE);
    named.set(text, 'r-x, one page read');
    cpu.load32(text);
    kernel.validate();
    return new VmLab(kernel, mm, cpu, options.pageSize, data, dataBytes, named, options.seed);
  }

  /** `count` 4-byte loads at random words of the data mapping. */
  runLoads(count: number): void {
    const words = this.dataBytes / 4;
    for (let i = 0; i < count; i++) this.cpu.load32(this.dataStart + this.rng.int(words) * 4);
    this.loads += count;
  }

  /** The TLB's arrays, first level then second. */
  tlbArrays(): TlbArray[] {
    return [...this.cpu.tlb.l1, ...this.cpu.tlb.l2];
  }

  /** The VMAs, as /proc/<pid>/maps lists them, with the lab's names for its mappings. */
  vmas(): VmaRow[] {
    const vmas = this.kernel.vm.vmas;
    const rows: VmaRow[] = [];
    const maps = this.mm.maps().split('\n');
    for (let i = 0; i < this.mm.mapCount; i++) {
      const vma = this.mm.vmaAt(i);
      const start = vmas.start(vma);
      const end = vmas.end(vma);
      const perms = maps[i]?.split(' ')[1] ?? '?';
      const heap = start <= this.mm.brkEnd && end >= this.mm.startBrk;
      rows.push({ start: formatVaddr(start, 12), end: formatVaddr(end, 12), perms, sizeBytes: end - start, name: heap ? '[heap]' : (this.named.get(start) ?? '') });
    }
    return rows;
  }
}
