// The CPU's miss path (cpu.ts, MISS PATH): loads the shortcut misses are served inline — L1 probe,
// STLB probe, a four-level walk over the real PTEs, the fills — when nothing unusual is in the way,
// and left to the general path otherwise. With a memory port attached the CPU takes the general
// path for every load (no shortcut, no miss path, no remembered translation). The same seeded mix
// of loads (hits, misses, 2 MiB and global pages, faults, unaligned and out-of-range addresses),
// stores, invlpg, PCID and mode switches through both must leave every counter, every TLB entry
// and stamp, every byte of RAM (A and D bits) and every value and error identical.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Ram } from '../../src/machine/ram.ts';
import { Cpu, type MemoryPort } from '../../src/machine/cpu.ts';
import { PTE_GLOBAL, PTE_HI_NX, PTE_USER } from '../../src/machine/pte.ts';
import type { FaultResolution, PageFault } from '../../src/machine/mmu.ts';
import type { TlbArray } from '../../src/machine/tlb.ts';
import { fullyAssociative, skylake, zen3, type TlbPreset } from '../../src/machine/tlb-presets.ts';
import { Prng } from '../../src/util/prng.ts';
import { PageTableBuilder } from '../helpers/page-tables.ts';

const MiB = 1 << 20;
const RAM_BYTES = 32 * MiB;
/** 4 KiB pages at SMALL (user, some read-only, supervisor-only, NX, global, or holes): 16 MiB. */
const SMALL = 0x40_0000;
const SMALL_PAGES = 4096;
/** Frames behind them (pages share frames: the STLB needs more pages than that to evict). */
const SMALL_FRAMES = 768;
/** 4 KiB pages high in the address space, under a supervisor-only PDPTE and an NX PDE. */
const HIGH = 0x7f12_3440_0000;
const HIGH_PAGES = 64;
/** 2 MiB pages. */
const HUGE = 0x4000_0000;
const HUGE_PAGES = 3;

/** A port straight to RAM: attaching it turns the CPU's fast paths off, and adds no cycles. */
function ramPort(ram: Ram): MemoryPort {
  const view = new DataView(ram.buffer);
  return {
    read: (paddr, sizeBytes) => (sizeBytes === 4 ? view.getUint32(paddr, true) : sizeBytes === 2 ? view.getUint16(paddr, true) : view.getUint8(paddr)),
    write: (paddr, sizeBytes, value) => (sizeBytes === 4 ? view.setUint32(paddr, value, true) : sizeBytes === 2 ? view.setUint16(paddr, value, true) : view.setUint8(paddr, value)),
  };
}

interface Machine {
  ram: Ram;
  cpu: Cpu;
  spaces: PageTableBuilder[];
}

/** Two address spaces over the same virtual ranges (different frames), the second with no holes
 *  and with 4 KiB pages where the first has 2 MiB ones. */
function machine(preset: TlbPreset, general: boolean): Machine {
  const ram = Ram.create({ sizeBytes: RAM_BYTES });
  new Uint32Array(ram.buffer).forEach((_, i, a) => (a[i] = Math.imul(i, 0x9e3779b1) >>> 0));
  const spaces: PageTableBuilder[] = [];
  for (let s = 0; s < 2; s++) {
    const pt = new PageTableBuilder(ram, (1 + s) * MiB, (2 + s) * MiB);
    const frames = (4 + 6 * s) * MiB;
    for (let p = 0; p < SMALL_PAGES; p++) {
      if (s === 0 && p % 17 === 5) continue; // a hole: not present
      pt.map(SMALL + p * 4096, frames + (p % SMALL_FRAMES) * 4096, 1, {
        writable: p % 7 !== 3,
        user: p % 11 !== 4,
        nx: p % 5 === 2,
        extraLo: p % 97 === 50 ? PTE_GLOBAL : 0,
      });
    }
    for (let p = 0; p < HIGH_PAGES; p++) pt.map(HIGH + p * 4096, frames + 4 * MiB + p * 4096, 1, { writable: true, user: true });
    // Upper levels that refuse: the PDPTE over HIGH is supervisor-only, the PDE over it is NX.
    const pdpte = pt.entryPaddr(HIGH, 3);
    pt.words[pdpte / 4] = pt.words[pdpte / 4]! & ~PTE_USER;
    const pde = pt.entryPaddr(HIGH, 2);
    pt.words[pde / 4 + 1] = pt.words[pde / 4 + 1]! | PTE_HI_NX;
    if (s === 0) {
      for (let p = 0; p < HUGE_PAGES; p++) pt.map(HUGE + p * 2 * MiB, 16 * MiB + p * 2 * MiB, 2, { writable: true, user: true, extraLo: p === 1 ? PTE_GLOBAL : 0 });
    } else {
      // The second space maps the same range with 4 KiB pages: the first space's global 2 MiB
      // entry, still cached, translates it there (a probe finds it before any walk).
      for (let p = 0; p < HUGE_PAGES * 512; p++) pt.map(HUGE + p * 4096, 16 * MiB + (p % 512) * 4096, 1, { writable: true, user: true });
    }
    spaces.push(pt);
  }
  const cpu = new Cpu(ram, { preset });
  if (general) cpu.setMemoryPort(ramPort(ram));
  cpu.setCr3(spaces[0]!.cr3, 1);
  // Holes with an odd page number are demand faults the handler maps (then retries); the rest raise.
  cpu.setFaultHandler((fault: PageFault): FaultResolution => {
    const page = Math.floor((fault.vaddr - SMALL) / 4096);
    if (fault.reason !== 'not-present' || page < 0 || page >= SMALL_PAGES || page % 2 === 0) return 'raise';
    spaces[0]!.map(SMALL + page * 4096, 12 * MiB + (page % 64) * 4096, 1, { writable: true, user: true });
    return 'retry';
  });
  return { ram, cpu, spaces };
}

/** A load address: mostly a hot set (L1 hits), then any small page (misses), 2 MiB pages, the
 *  high pages, and now and then an unaligned, fractional or out-of-range one. */
function address(prng: Prng): number {
  const r = prng.int(1000);
  const offset = 4 * prng.int(1024);
  if (r < 450) return SMALL + prng.int(12) * 4096 + offset;
  if (r < 940) return SMALL + prng.int(SMALL_PAGES) * 4096 + offset;
  if (r < 945) return HUGE + prng.int(HUGE_PAGES * 512) * 4096 + offset;
  if (r < 980) return HIGH + prng.int(HIGH_PAGES) * 4096 + offset;
  if (r < 990) return SMALL + prng.int(SMALL_PAGES) * 4096 + 1 + prng.int(3);
  if (r < 995) return SMALL + 0.5;
  return 2 ** 48 - 2;
}

function outcome(fn: () => number): string {
  try {
    return String(fn());
  } catch (error) {
    return `${(error as Error).name}: ${(error as Error).message}`;
  }
}

/** One seeded step on `m`: what it returned (a value, a sum, or the error). */
function step(m: Machine, prng: Prng, batch: Float64Array): string {
  const { cpu, spaces } = m;
  const r = prng.int(1000);
  if (r < 450) {
    const n = 1 + prng.int(batch.length);
    for (let k = 0; k < n; k++) batch[k] = address(prng);
    if (prng.int(2) === 0) return outcome(() => cpu.loadMany(batch.subarray(0, n)));
    // With `out`: every value at its own index (the miss path reads a run's data after the run's
    // translations), and after a fault the same values written before it.
    const out = new Uint32Array(n);
    return `${outcome(() => cpu.loadMany(batch.subarray(0, n), out))} [${out.join(',')}]`;
  }
  if (r < 760) {
    const vaddr = address(prng);
    return outcome(() => cpu.load32(vaddr));
  }
  if (r < 800) {
    // A burst within one page, 2 MiB ones half the time: hits on the remembered translation.
    const page = prng.int(2) === 0 ? HUGE + prng.int(HUGE_PAGES) * 2 * MiB : SMALL + prng.int(SMALL_PAGES) * 4096;
    return outcome(() => cpu.load32(page + 4 * prng.int(1024)) + cpu.load32(page + 4 * prng.int(1024)) + cpu.load32(page + 4 * prng.int(1024)));
  }
  if (r < 880) {
    const vaddr = SMALL + prng.int(SMALL_PAGES) * 4096 + 4 * prng.int(1024);
    const value = prng.nextU32();
    return outcome(() => (cpu.store32(vaddr, value), 0));
  }
  if (r < 920) {
    cpu.invlpg(address(prng));
    return 'invlpg';
  }
  if (r < 960) {
    const s = prng.int(2);
    const pcid = prng.int(10) === 0 ? 0 : 1 + s;
    cpu.setCr3(spaces[s]!.cr3, pcid);
    return `cr3 ${s} pcid ${pcid}`;
  }
  if (r < 985) {
    cpu.setUser(!cpu.user);
    return `user ${cpu.user}`;
  }
  if (r < 990) {
    cpu.flushPcid(1 + prng.int(2));
    return 'flushPcid';
  }
  cpu.flushAll(prng.int(4) === 0);
  return 'flushAll';
}

function arraysOf(cpu: Cpu): TlbArray[] {
  return [...cpu.tlb.l1, ...cpu.tlb.l2, ...(cpu.tlb.walkCaches?.arrays ?? [])];
}

function same(fast: Machine, general: Machine, when: string): void {
  assert.deepEqual(fast.cpu.stats(), general.cpu.stats(), `stats ${when}`);
  const a = arraysOf(fast.cpu);
  const b = arraysOf(general.cpu);
  for (let k = 0; k < a.length; k++) {
    const name = `${a[k]!.spec.name} ${when}`;
    assert.deepEqual(a[k]!.tags, b[k]!.tags, `tags of ${name}`);
    assert.deepEqual(a[k]!.stamps, b[k]!.stamps, `stamps of ${name}`);
    assert.deepEqual(a[k]!.frames, b[k]!.frames, `frames of ${name}`);
    assert.deepEqual(a[k]!.perms, b[k]!.perms, `perms of ${name}`);
    assert.deepEqual(a[k]!.sizeCounts, b[k]!.sizeCounts, `size counts of ${name}`);
    assert.equal(a[k]!.clock, b[k]!.clock, `clock of ${name}`);
    assert.equal(a[k]!.globals, b[k]!.globals, `globals of ${name}`);
  }
  assert.ok(Buffer.compare(fast.ram.bytes, general.ram.bytes) === 0, `RAM (A and D bits, stored words) ${when}`);
  fast.cpu.validate();
  general.cpu.validate();
}

for (const [name, preset, missPath] of [
  ['skylake', () => skylake(), true],
  ['skylake with page-walk caches', () => skylake(true), false],
  ['zen3', () => zen3(), true],
  ['zen3 with page-walk caches', () => zen3(true), false],
  ['fully associative (no second level)', () => fullyAssociative(48), true],
] as [string, () => TlbPreset, boolean][]) {
  test(`${name}: the miss path and the general path leave identical counters, TLBs, RAM and values`, () => {
    const fast = machine(preset(), false);
    const general = machine(preset(), true);
    const p1 = new Prng(2026);
    const p2 = new Prng(2026);
    const b1 = new Float64Array(48);
    const b2 = new Float64Array(48);
    let faults = 0;
    for (let op = 0; op < 6000; op++) {
      const x = step(fast, p1, b1);
      const y = step(general, p2, b2);
      assert.equal(x, y, `step ${op}`);
      if (x.startsWith('PageFaultError')) faults++;
      if (op % 500 === 0) same(fast, general, `after step ${op}`);
    }
    same(fast, general, 'at the end');
    assert.ok(faults > 20, `the mix raised ${faults} page faults`);
    assert.equal(general.cpu.missPathLoads, 0, 'a CPU with a memory port never takes the miss path');
    if (missPath) assert.ok(fast.cpu.missPathLoads > 10_000, `the miss path served ${fast.cpu.missPathLoads} loads`);
    else assert.equal(fast.cpu.missPathLoads, 0, 'with page-walk caches the miss path is off');
    const s = fast.cpu.stats();
    assert.ok(s.walks > 5000 && s.tlb.counters.l1Hits > 10_000, `a mix of hits (${s.tlb.counters.l1Hits}) and walks (${s.walks})`);
  });
}

test('loadMany into an `out` over the page tables reads and faults as load32 one at a time would', () => {
  // `out` covers the leaf page table of the pages loaded, whose frames hold zeros: each value
  // written there clears a PTE that a later load's walk reads. The miss path translates a run
  // before it reads the run's data (and writes `out`), so such a batch must go the plain way, where
  // the first load of a page whose PTE a load before it cleared faults.
  const fast = machine(skylake(), false);
  const general = machine(skylake(), true);
  for (const m of [fast, general]) m.ram.bytes.fill(0, 4 * MiB, 6 * MiB);
  // Each page of the first 512 (one leaf table) that a user may read, once, in a random order:
  // no load hits the TLB, so the miss path would serve long runs.
  const prng = new Prng(7);
  const pages = Array.from({ length: 512 }, (_, p) => p).filter((p) => p % 11 !== 4 && p % 17 !== 5);
  for (let k = pages.length - 1; k > 0; k--) {
    const j = prng.int(k + 1);
    [pages[k], pages[j]] = [pages[j]!, pages[k]!];
  }
  const vaddrs = Float64Array.from(pages, (p) => SMALL + p * 4096 + 4 * prng.int(1024));
  const leafTable = fast.spaces[0]!.entryPaddr(SMALL, 1);
  const out = new Uint32Array(fast.ram.buffer, leafTable, 1024);
  const mirror = new Uint32Array(general.ram.buffer, leafTable, 1024);
  const got = outcome(() => fast.cpu.loadMany(vaddrs, out));
  const expected = outcome(() => {
    let sum = 0;
    for (let k = 0; k < vaddrs.length; k++) {
      const value = general.cpu.load32(vaddrs[k]!);
      mirror[k] = value;
      sum = (sum + value) | 0;
    }
    return sum >>> 0;
  });
  assert.match(expected, /PageFaultError: .*not-present at level 1/);
  assert.equal(got, expected);
  assert.ok(Buffer.compare(fast.ram.bytes, general.ram.bytes) === 0, 'RAM after the batch');
});
