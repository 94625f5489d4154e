/**
 * Translated loads per second through the modelled TLBs and page walk (src/machine/cpu.ts), beside
 * the floor: a v86-style flat translation array (one Int32Array entry per virtual page holding its
 * frame's address, the fastest design a JavaScript emulator uses, with no TLB model at all).
 *   hit-heavy:  random loads within 32 pages (all in the L1 TLB after warm-up);
 *   miss-heavy: random loads over 128 MiB of 4 KiB pages (nearly every load misses the STLB and
 *               walks the real PTEs in RAM).
 * Each through `loadMany` (the batch API) and through `load32` per access (the public API).
 */
import { Ram } from '../src/machine/ram.ts';
import { Cpu } from '../src/machine/cpu.ts';
import { skylake } from '../src/machine/tlb-presets.ts';
import { Prng } from '../src/util/prng.ts';
import { PageTableBuilder } from '../test/helpers/page-tables.ts';
import type { BenchCase } from './harness.ts';

const DATA_PADDR = 16 << 20;
const STREAM = 1 << 16;

interface Setup {
  ram: Ram;
  cpu: Cpu;
  /** vaddr → frame paddr per 4 KiB page, or -1: the floor's flat translation array. */
  flat: Int32Array;
  vaddrs: Float64Array;
}

/** `pages` 4 KiB pages at vaddr 0 mapped to consecutive frames, and a stream of random aligned
 *  load addresses over them. */
function setup(pages: number, seed: number): Setup {
  const ram = Ram.create({ sizeBytes: DATA_PADDR + pages * 4096 });
  const pt = new PageTableBuilder(ram, 1 << 20, DATA_PADDR);
  pt.mapRange(0, DATA_PADDR, pages * 4096, 1);
  const cpu = new Cpu(ram, { preset: skylake() });
  cpu.setCr3(pt.cr3, 1);
  const flat = new Int32Array(pages);
  for (let p = 0; p < pages; p++) flat[p] = DATA_PADDR + p * 4096;
  const prng = new Prng(seed);
  const vaddrs = Float64Array.from({ length: STREAM }, () => prng.int(pages) * 4096 + 4 * prng.int(1024));
  return { ram, cpu, flat, vaddrs };
}

function flatFloor(s: Setup): (n: number) => unknown {
  const u32 = new Uint32Array(s.ram.buffer);
  const { flat, vaddrs } = s;
  return (n) => {
    let sum = 0;
    for (let i = 0; i < n; i++) {
      const vaddr = vaddrs[i & (STREAM - 1)]!;
      const frame = flat[vaddr >>> 12]!;
      if (frame < 0) throw new Error('unmapped');
      sum = (sum + u32[(frame + (vaddr & 4095)) >>> 2]!) | 0;
    }
    return sum;
  };
}

function batch(s: Setup): (n: number) => unknown {
  return (n) => {
    let sum = 0;
    for (let done = 0; done < n; done += STREAM) {
      const k = Math.min(STREAM, n - done);
      sum = (sum + s.cpu.loadMany(k === STREAM ? s.vaddrs : s.vaddrs.subarray(0, k))) | 0;
    }
    return sum;
  };
}

function perAccess(s: Setup): (n: number) => unknown {
  const { cpu, vaddrs } = s;
  return (n) => {
    let sum = 0;
    for (let i = 0; i < n; i++) sum = (sum + cpu.load32(vaddrs[i & (STREAM - 1)]!)) | 0;
    return sum;
  };
}

export const VM_GROUP_PREFIX = 'vm translated loads';

export function vmCases(): BenchCase[] {
  const cases: BenchCase[] = [];
  for (const [label, pages] of [
    ['TLB-hit-heavy (random within 32 pages)', 32],
    ['miss-heavy (random over 128 MiB of 4 KiB pages)', 32768],
  ] as const) {
    const group = `${VM_GROUP_PREFIX}, ${label}`;
    const unit = 'load';
    cases.push(
      { group, unit, name: 'floor: v86-style flat translation array', baseline: true, make: () => flatFloor(setup(pages, 1)) },
      { group, unit, name: 'Cpu.loadMany, Skylake TLBs + walk', make: () => batch(setup(pages, 1)) },
      { group, unit, name: 'Cpu.load32 per access, Skylake TLBs + walk', make: () => perAccess(setup(pages, 1)) },
    );
  }
  return cases;
}
