/**
 * Translated loads per second through the modelled TLBs and page walk (src/machine/cpu.ts), beside
 * the floor: a v86-style flat translation array (one Int32Array entry per virtual page holding its
 * frame's address, the fastest design a JavaScript emulator uses, with no TLB model at all).
 *   hit-heavy:  random loads within 32 pages (all in the L1 TLB after warm-up);
 *   miss-heavy: random loads over 128 MiB of 4 KiB pages (nearly every load misses the STLB and
 *               walks the real PTEs in RAM).
 * Each through `loadMany` (the batch API) and through `load32` per access (the public API). The
 * miss-heavy group also has a reference case, the design's floor (see designFloor), and loadMany
 * over global pages, as the kernel maps vmalloc.
 */
import { Ram } from '../src/machine/ram.ts';
import { Cpu } from '../src/machine/cpu.ts';
import { skylake } from '../src/machine/tlb-presets.ts';
import { findWay, lruTake } from '../src/machine/tlb.ts';
import { PTE_GLOBAL } from '../src/machine/pte.ts';
import { Prng } from '../src/util/prng.ts';
import { PageTableBuilder } from '../test/helpers/page-tables.ts';
import type { BenchCase } from './harness.ts';

// The TLB's own tag scan and LRU victim search (the floor differs in what it leaves out, not in how
// it probes or picks), as module-local bindings: under tsx's CommonJS output an imported one is a
// getter call on every use.
const wayOf = findWay;
const takeVictim = lruTake;

const DATA_PADDR = 16 << 20;
const STREAM = 1 << 16;
/** Loads the design floor translates before it reads their data (Cpu's runs: POLL_EVERY, cpu.ts). */
const RUN = 256;

interface Setup {
  ram: Ram;
  cpu: Cpu;
  /** vaddr → frame paddr per 4 KiB page, or -1: the floor's flat translation array. */
  flat: Int32Array;
  vaddrs: Float64Array;
}

/** `pages` 4 KiB pages at vaddr 0 mapped to consecutive frames (global ones, as the kernel maps
 *  vmalloc, with `global`), and a stream of random aligned load addresses over them. */
function setup(pages: number, seed: number, global = false): Setup {
  const ram = Ram.create({ sizeBytes: DATA_PADDR + pages * 4096 });
  const pt = new PageTableBuilder(ram, 1 << 20, DATA_PADDR);
  pt.mapRange(0, DATA_PADDR, pages * 4096, 1, { extraLo: global ? PTE_GLOBAL : 0 });
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

/** A TLB array of the floor (Skylake's geometry: tlb-presets.ts), with TlbArray's LRU state: stamps,
 *  and per set a recency ring of way numbers with its head and placed stamps (tlb.ts lruTake). */
interface FloorArray {
  tags: Float64Array;
  stamps: Int32Array;
  frames: Float64Array;
  order: Uint16Array;
  heads: Int32Array;
  placed: Int32Array;
}

function floorArray(entries: number, ways: number): FloorArray {
  // As TlbArray starts: every way empty (stamp −1), each set's ring in way order.
  const order = new Uint16Array(entries);
  for (let i = 0; i < entries; i++) order[i] = i % ways;
  const heads = new Int32Array(entries / ways);
  return { tags: new Float64Array(entries).fill(-1), stamps: new Int32Array(entries).fill(-1), frames: new Float64Array(entries), order, heads, placed: new Int32Array(entries).fill(-1) };
}

/**
 * Reference, not kmem's code: the least a load through this design can do — a 4-way L1 (16 sets)
 * and a 12-way STLB (128 sets) with tags as doubles and LRU by int32 stamps (victim by the same
 * recency ring as tlb.ts, lruTake), and on a miss a four-level walk over the same page tables in RAM,
 * then the data read (the PML4 and PDPT entries read once per 1 GiB region per run, as Cpu's miss
 * path reads them). No counters, no A bits, no rights, no checks, no PCIDs, no signature bytes:
 * the floor under which Cpu's miss path cannot go without changing the model or how it holds its
 * state (with a stamp scan for victims this floor was 51–56 ns, docs/benchmarks.md). As Cpu's miss
 * path, it translates a run of loads (RUN of them) before it reads their data: the reads, a tight
 * loop, then keep many host cache misses in flight.
 */
function designFloor(s: Setup): (n: number) => unknown {
  const words = new Int32Array(s.ram.buffer);
  const u32 = new Uint32Array(s.ram.buffer);
  const { vaddrs } = s;
  const cr3 = s.cpu.cr3;
  const l1 = floorArray(64, 4);
  const l2 = floorArray(1536, 12);
  const t1 = l1.tags;
  const s1 = l1.stamps;
  const f1 = l1.frames;
  const o1 = l1.order;
  const h1 = l1.heads;
  const p1 = l1.placed;
  const t2 = l2.tags;
  const s2 = l2.stamps;
  const f2 = l2.frames;
  const o2 = l2.order;
  const h2 = l2.heads;
  const p2 = l2.placed;
  let c1 = 0;
  let c2 = 0;
  const wordAt = new Int32Array(RUN);
  return (n) => {
    let sum = 0;
    for (let start = 0; start < n; start += RUN) {
      const end = Math.min(n, start + RUN);
      let regionKey = -1;
      let pdWord = 0;
      for (let i = start; i < end; i++) {
        const vaddr = vaddrs[i & (STREAM - 1)]!;
        const tag = vaddr - (vaddr & 4095);
        const vpn = vaddr >>> 12;
        const hit = wayOf(t1, (vpn & 15) * 4, 4, tag);
        let frame: number;
        if (hit >= 0) {
          frame = f1[hit]!;
          s1[hit] = ++c1;
        } else {
          const hit2 = wayOf(t2, (vpn & 127) * 12, 12, tag);
          if (hit2 >= 0) {
            frame = f2[hit2]!;
            s2[hit2] = ++c2;
          } else {
            const hiV = Math.floor(vaddr / 2 ** 32);
            const loV = vaddr >>> 0;
            // The PML4 and PDPT entries once per 1 GiB region per run, as Cpu's miss path reads them.
            const region = hiV * 4 + (loV >>> 30);
            if (region !== regionKey) {
              const lo4 = words[(cr3 >>> 2) + (((hiV >>> 7) & 511) << 1)]!;
              const lo3 = words[((lo4 & 0xfffff000) >>> 2) + (((((hiV & 0x7f) << 2) | (loV >>> 30)) & 511) << 1)]!;
              pdWord = (lo3 & 0xfffff000) >>> 2;
              regionKey = region;
            }
            let lo = words[pdWord + (((loV >>> 21) & 511) << 1)]!;
            lo = words[((lo & 0xfffff000) >>> 2) + (((loV >>> 12) & 511) << 1)]!;
            frame = (lo & 0xfffff000) >>> 0;
            const v = takeVictim(s2, o2, p2, h2, vpn & 127, 12, ++c2);
            t2[v] = tag;
            f2[v] = frame;
            s2[v] = c2;
          }
          const v = takeVictim(s1, o1, p1, h1, vpn & 15, 4, ++c1);
          t1[v] = tag;
          f1[v] = frame;
          s1[v] = c1;
        }
        wordAt[i - start] = (frame + (vaddr & 4095)) >>> 2;
      }
      for (let k = 0; k < end - start; k++) sum = (sum + u32[wordAt[k]!]!) | 0;
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
    if (pages > 32) {
      cases.push(
        { group, unit, name: 'reference: the design floor (bare 4-way L1 + 12-way STLB + 4-level walk, no counters)', make: () => designFloor(setup(pages, 1)) },
        // Global pages (the kernel's vmalloc mappings): each probe also looks for the global tag,
        // and the STLB's global probe has no signature filter.
        { group, unit, name: 'Cpu.loadMany over global pages (kernel mappings), Skylake TLBs + walk', make: () => batch(setup(pages, 1, true)) },
      );
    }
  }
  return cases;
}
