import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PhysicalAddressError, Ram } from '../../src/machine/ram.ts';
import { Cpu, type MemoryPort } from '../../src/machine/cpu.ts';
import { PageFaultError, VirtualAddressError, type PageFault } from '../../src/machine/mmu.ts';
import { PTE_DIRTY, PTE_GLOBAL } from '../../src/machine/pte.ts';
import { fullyAssociative, skylake, zen3 } from '../../src/machine/tlb-presets.ts';
import { MemorySystem } from '../../src/machine/cache.ts';
import { KmemError } from '../../src/util/errors.ts';
import { PageTableBuilder } from '../helpers/page-tables.ts';

function machine(preset = skylake()) {
  const ram = Ram.create({ sizeBytes: '16MiB' });
  const pt = new PageTableBuilder(ram, 0x10000, 0x100000);
  const cpu = new Cpu(ram, { preset, index: 3 });
  cpu.setCr3(pt.cr3, 1);
  return { ram, pt, cpu };
}

test('loads and stores of every size go through the page tables to the mapped frames', () => {
  const { ram, pt, cpu } = machine();
  pt.map(0x40_0000_0000, 0x200000, 1);
  pt.map(0x40_0000_1000, 0x300000, 1);
  cpu.store32(0x40_0000_0010, 0xdeadbeef);
  assert.equal(ram.u32(0x200010, 1)[0], 0xdeadbeef);
  assert.equal(cpu.load32(0x40_0000_0010), 0xdeadbeef);
  assert.equal(cpu.load8(0x40_0000_0010), 0xef);
  assert.equal(cpu.load16(0x40_0000_0012), 0xdead);
  cpu.store64(0x40_0000_0020, 0x0123_4567_89ab_cdefn);
  assert.equal(cpu.load64(0x40_0000_0020), 0x0123_4567_89ab_cdefn);
  // An unaligned 8-byte store across the page boundary lands in two frames.
  cpu.store64(0x40_0000_0ffc, 0x1122_3344_5566_7788n);
  assert.deepEqual([...ram.u8(0x200ffc, 4)], [0x88, 0x77, 0x66, 0x55]);
  assert.deepEqual([...ram.u8(0x300000, 4)], [0x44, 0x33, 0x22, 0x11]);
  assert.equal(cpu.load64(0x40_0000_0ffc), 0x1122_3344_5566_7788n);
  assert.equal(cpu.load32(0x40_0000_0ffe), 0x55667788 >>> 16 | (0x3344 << 16));
  // Byte ranges across pages.
  const src = Uint8Array.from({ length: 100 }, (_, i) => i);
  cpu.storeBytes(0x40_0000_0fd0, src);
  const dst = new Uint8Array(100);
  cpu.loadBytes(0x40_0000_0fd0, dst);
  assert.deepEqual(dst, src);
  assert.deepEqual([...ram.u8(0x300000, 4)], [48, 49, 50, 51]);
  assert.equal(cpu.translate(0x40_0000_1234), 0x300234);
  cpu.validate();
});

test('2 MiB pages: one translation covers the whole page', () => {
  const { pt, cpu } = machine();
  pt.map(0x20_0000, 0x400000, 2);
  for (let off = 0; off < 2 << 20; off += 4096) cpu.store32(0x20_0000 + off, off);
  assert.equal(cpu.load32(0x20_0000 + 0x1ff000), 0x1ff000);
  const s = cpu.stats();
  assert.equal(s.walks, 1);
  assert.equal(s.tlb.counters.l1Misses, 1);
});

test('writes set the dirty bit, also through a TLB entry cached by a read', () => {
  const { pt, cpu } = machine();
  pt.map(0x5000, 0x200000, 1);
  cpu.load32(0x5000);
  assert.equal(pt.leaf(0x5000, 1).lo & PTE_DIRTY, 0);
  cpu.store32(0x5000, 7);
  assert.equal(pt.leaf(0x5000, 1).lo & PTE_DIRTY, PTE_DIRTY);
  assert.equal(cpu.stats().walks, 2, 'the clean entry made the write walk again to set D');
});

test('faults reach the kernel handler: retry after mapping (demand paging), raise, or its own error', () => {
  const { pt, cpu } = machine();
  const seen: PageFault[] = [];
  cpu.setFaultHandler((fault) => {
    seen.push(fault);
    if (fault.vaddr >= 0x100000 && fault.vaddr < 0x200000) {
      pt.map(fault.vaddr - (fault.vaddr % 4096), 0x200000, 1);
      return 'retry';
    }
    if (fault.vaddr === 0x300000) return new KmemError('guard page hit');
    return 'raise';
  });
  cpu.store32(0x100040, 42);
  assert.equal(cpu.load32(0x100040), 42);
  assert.equal(seen.length, 1);
  assert.deepEqual(
    { ...seen[0], cr3: 0 },
    { vaddr: 0x100040, access: 'write', user: true, reason: 'not-present', level: 4, errorCode: 0b110, cr3: 0, pcid: 1, cpuIndex: 3 },
  );
  assert.throws(() => cpu.load32(0x300000), /guard page hit/);
  assert.throws(
    () => cpu.load8(0x400001),
    (e: unknown) => e instanceof PageFaultError && e.fault.vaddr === 0x400001 && e.fault.reason === 'not-present' && /0x400001/.test(e.message),
  );
  // Protection: read-only page refuses a store; supervisor-only page refuses a user load.
  pt.map(0x500000, 0x201000, 1, { writable: false });
  assert.equal(cpu.load32(0x500000), 0);
  assert.throws(() => cpu.store32(0x500000, 1), (e: unknown) => e instanceof PageFaultError && e.fault.reason === 'protection' && e.fault.access === 'write');
  assert.throws(() => cpu.load32(2 ** 48), VirtualAddressError);
  // A handler that claims a fix it did not make is caught, not looped on forever.
  let calls = 0;
  cpu.setFaultHandler(() => {
    calls++;
    return 'retry';
  });
  assert.throws(() => cpu.load32(0x600000), /the fault handler asked for 8 retries and the walk still fails/);
  assert.equal(calls, 8, 'the handler ran once per walk, at most 8 times');
  cpu.validate();
});

test('a stale TLB entry is used until invlpg, as on hardware; then the fault comes', () => {
  const { pt, cpu } = machine();
  pt.map(0x7000, 0x200000, 1);
  cpu.store32(0x7000, 99);
  pt.unmap(0x7000, 1);
  assert.equal(cpu.load32(0x7000), 99, 'no invlpg yet: the TLB still holds the translation');
  cpu.invlpg(0x7000);
  assert.throws(() => cpu.load32(0x7000), PageFaultError);
});

test('PCIDs: switching address spaces keeps both sets of entries; PCID 0 flushes; globals survive', () => {
  const { ram, pt, cpu } = machine();
  const other = new PageTableBuilder(ram, 0x100000, 0x180000);
  pt.map(0x1000, 0x200000, 1);
  other.map(0x1000, 0x300000, 1);
  pt.map(0x9000, 0x201000, 1, { extraLo: PTE_GLOBAL });
  other.map(0x9000, 0x201000, 1, { extraLo: PTE_GLOBAL });
  ram.u32(0x200000, 1)[0] = 1;
  ram.u32(0x300000, 1)[0] = 2;
  assert.equal(cpu.load32(0x1000), 1);
  cpu.load32(0x9000);
  cpu.setCr3(other.cr3, 2);
  assert.equal(cpu.load32(0x1000), 2);
  cpu.setCr3(pt.cr3, 1);
  const walksBefore = cpu.stats().walks;
  assert.equal(cpu.load32(0x1000), 1);
  assert.equal(cpu.load32(0x9000), 0);
  assert.equal(cpu.stats().walks, walksBefore, 'no walk: both PCIDs kept their entries');
  cpu.setCr3(other.cr3, 0);
  assert.equal(cpu.load32(0x9000), 0);
  assert.equal(cpu.stats().walks, walksBefore, 'the global entry survived the non-PCID CR3 write');
  assert.equal(cpu.load32(0x1000), 2);
  assert.equal(cpu.stats().walks, walksBefore + 1);
  cpu.flushAll(false);
  cpu.load32(0x9000);
  assert.equal(cpu.stats().walks, walksBefore + 2);
  cpu.validate();
});

test('page-walk caches skip upper levels and are emptied by invlpg', () => {
  const { pt, cpu } = machine(skylake(true));
  for (let i = 0; i < 8; i++) pt.map(0x10_0000_0000 + i * 4096, 0x200000 + i * 4096, 1);
  for (let i = 0; i < 8; i++) cpu.load32(0x10_0000_0000 + i * 4096);
  let s = cpu.stats();
  assert.equal(s.walks, 8);
  assert.equal(s.walkReads, 4 + 7 * 1, 'after the first walk the PDE-cache leaves one read per walk');
  assert.deepEqual(s.walkCacheHits, [7, 0, 0]);
  cpu.invlpg(0x10_0000_0000);
  cpu.load32(0x10_0000_0000);
  s = cpu.stats();
  assert.equal(s.walkReads, 4 + 7 + 4);
});

test('cycles follow the preset costs over the counted events', () => {
  const { pt, cpu } = machine(skylake());
  pt.mapRange(0, 0x200000, 256 * 4096, 1);
  for (let p = 0; p < 256; p++) cpu.load32(p * 4096);
  for (let p = 0; p < 256; p++) cpu.load32(p * 4096);
  const s = cpu.stats();
  const c = cpu.costs;
  assert.equal(s.accesses, 512);
  assert.equal(s.walks, 256);
  // Second pass: the L1 4K array (16 sets × 4) kept pages 192…255, but the pass refills each set
  // with 12 earlier pages before reaching them, so all 256 miss L1 and hit the 1536-entry STLB.
  assert.equal(s.tlb.counters.l2Hits, 256);
  assert.equal(s.cycles, 512 * c.dataAccessCycles + 256 * c.l2HitCycles + 256 * 4 * c.walkReadCycles);
});

test('a memory port between CPU and RAM sees every data access by physical address', () => {
  const { ram, pt, cpu } = machine(zen3());
  pt.map(0x1000, 0x200000, 1);
  const log: string[] = [];
  const port: MemoryPort = {
    read(paddr, size) {
      log.push(`r${size}@${paddr.toString(16)}`);
      return size === 4 ? ram.u32(paddr, 1)[0]! : size === 2 ? ram.bytes[paddr]! | (ram.bytes[paddr + 1]! << 8) : ram.bytes[paddr]!;
    },
    write(paddr, size, value) {
      log.push(`w${size}@${paddr.toString(16)}`);
      for (let i = 0; i < size; i++) ram.bytes[paddr + i] = (value >>> (8 * i)) & 0xff;
    },
  };
  cpu.setMemoryPort(port);
  cpu.store32(0x1010, 5);
  assert.equal(cpu.load32(0x1010), 5);
  assert.equal(cpu.load32(0x1010), 5);
  assert.deepEqual(log, ['w4@200010', 'r4@200010', 'r4@200010']);
});

test('loadMany matches load32 one by one, counters included', () => {
  const a = machine(fullyAssociative(8));
  const b = machine(fullyAssociative(8));
  for (const m of [a, b]) {
    m.pt.mapRange(0, 0x200000, 64 * 4096, 1);
    for (let i = 0; i < 64 * 1024; i++) m.ram.u32(0x200000 + i * 4, 1)[0] = i * 7;
  }
  const vaddrs = Float64Array.from({ length: 5000 }, (_, i) => ((i * 7919) % (64 * 1024)) * 4);
  let sum = 0;
  for (const v of vaddrs) sum = (sum + a.cpu.load32(v)) | 0;
  const out = new Uint32Array(vaddrs.length);
  assert.equal(b.cpu.loadMany(vaddrs, out), sum >>> 0);
  assert.equal(out[1], 7919 * 7);
  assert.deepEqual(b.cpu.stats(), a.cpu.stats());
});

test('with a data cache attached, page-walk reads go through it and every cycle is counted once (hand-computed)', () => {
  const { ram, pt, cpu } = machine(skylake());
  const mem = new MemorySystem(ram, { preset: 'skylake' });
  pt.map(0x1000, 0x200000, 1);
  pt.map(0x2000, 0x201000, 1);
  cpu.setMemoryPort(mem.cpu(0));
  // Skylake cache preset: L1D hit 4 cycles, RAM 250; the TLB preset: L1 TLB hit 0, walk base 0.
  cpu.load32(0x1000); // walk: PML4E, PDPTE, PDE, PTE[1], each line from RAM (4 × 250); data from RAM (250)
  cpu.load32(0x2000); // walk: the same four lines, now L1D hits (PTE[2] shares PTE[1]'s line): 4 × 4; data from RAM (250)
  cpu.load32(0x1004); // L1 TLB hit; data: an L1D hit (4)
  const cache = mem.cpu(0).stats();
  assert.equal(cache.walkReads, 8, 'the walker\'s 8 entry reads went through the data cache');
  assert.equal(cache.loads, 3, 'and are not counted as the program\'s loads');
  assert.equal(cache.cycles, 4 * 250 + 250 + 4 * 4 + 250 + 4);
  const s = cpu.stats();
  assert.equal(s.walkReads, 8);
  assert.equal(s.cycles, 1520, 'the cache\'s cycles, with no dataAccessCycles or walkReadCycles added on top');
  // Without the cache, the preset's stand-ins: 3 accesses × 4 + 8 walk reads × 12 (the same events).
  const plain = machine(skylake());
  plain.pt.map(0x1000, 0x200000, 1);
  plain.pt.map(0x2000, 0x201000, 1);
  for (const v of [0x1000, 0x2000, 0x1004]) plain.cpu.load32(v);
  assert.equal(plain.cpu.cycles(), 3 * 4 + 8 * 12);
  // Detaching keeps what the cache charged and goes back to the preset's costs.
  cpu.setMemoryPort(null);
  cpu.load32(0x1008);
  assert.equal(cpu.cycles(), 1520 + 4);
});

test('a fractional virtual address is a VirtualAddressError on every path, also once its page is cached (remembered translation, shortcut, loadMany)', () => {
  const { pt, cpu } = machine();
  pt.map(0x1000, 0x200000, 1);
  pt.map(0x2000, 0x201000, 1);
  cpu.store32(0x1000, 7);
  cpu.store32(0x2000, 9);
  for (const vaddr of [0x1000 + 0.8, 0x1000 + 1 / 8, 0x1004 + 0.25, 0x2000 + 0.5]) {
    assert.equal(cpu.load32(0x1000), 7); // the page is cached in both shortcuts
    assert.equal(cpu.load32(0x2000), 9);
    assert.throws(() => cpu.load32(vaddr), VirtualAddressError, `load32(${vaddr})`);
    assert.throws(() => cpu.load8(vaddr), VirtualAddressError, `load8(${vaddr})`);
    assert.throws(() => cpu.store32(vaddr, 1), VirtualAddressError, `store32(${vaddr})`);
    assert.throws(() => cpu.loadMany([0x1000, vaddr]), VirtualAddressError, `loadMany([…, ${vaddr}])`);
  }
  assert.equal(cpu.load32(0x1000), 7);
  cpu.validate();
});

test('a leaf that maps a frame outside RAM is a PhysicalAddressError on every access path, and a large page running past the end of RAM serves only the part inside it', () => {
  // 17 MiB of RAM: the 2 MiB page at 16 MiB has its first half inside RAM, its second outside.
  const ram = Ram.create({ sizeBytes: '17MiB' });
  const pt = new PageTableBuilder(ram, 0x10000, 0x100000);
  const cpu = new Cpu(ram, { preset: skylake() });
  cpu.setCr3(pt.cr3, 1);
  const end = ram.sizeBytes;
  // A 4 KiB leaf past the end of RAM (a frame below MAXPHYADDR, so no reserved-bit fault).
  pt.map(0x7000, end + 0x3000, 1);
  const outside = (e: unknown) => e instanceof PhysicalAddressError && e.paddr === end + 0x3000;
  assert.throws(() => cpu.load32(0x7000), outside);
  assert.throws(() => cpu.load32(0x7000), outside, 'nothing cached makes the second try succeed');
  assert.throws(() => cpu.loadMany([0x7000]), outside);
  assert.throws(() => cpu.store32(0x7004, 1), (e) => e instanceof PhysicalAddressError);
  assert.throws(() => cpu.load8(0x7001), (e) => e instanceof PhysicalAddressError);
  assert.throws(() => cpu.loadBytes(0x7000, new Uint8Array(8)), (e) => e instanceof PhysicalAddressError);
  assert.throws(() => cpu.translate(0x7000), (e) => e instanceof PhysicalAddressError);
  // A 2 MiB page whose second half lies past the end of RAM: its first half works, fast paths
  // included; every access past the end raises.
  pt.map(0x40_0000, 16 << 20, 2);
  for (let round = 0; round < 3; round++) {
    cpu.store32(0x40_0000 + 0xf_fffc, 0x1234_5678);
    assert.equal(cpu.load32(0x40_0000 + 0xf_fffc), 0x1234_5678);
    assert.equal(cpu.loadMany([0x40_0000, 0x40_0000 + 0xf_fffc]), 0x1234_5678 + ram.u32(16 << 20, 1)[0]!);
    assert.throws(() => cpu.load32(0x40_0000 + 0x10_0000), (e) => e instanceof PhysicalAddressError && e.paddr === end);
    assert.throws(() => cpu.loadMany([0x40_0000, 0x40_0000 + 0x18_0000]), (e) => e instanceof PhysicalAddressError && e.paddr === end + 0x8_0000);
    assert.throws(() => cpu.store32(0x40_0000 + 0x1f_fffc, 7), (e) => e instanceof PhysicalAddressError);
    assert.throws(() => cpu.load64(0x40_0000 + 0xf_fffc), (e) => e instanceof PhysicalAddressError, 'an access that starts inside RAM and ends outside');
    assert.throws(() => cpu.loadBytes(0x40_0000 + 0xf_fff0, new Uint8Array(32)), (e) => e instanceof PhysicalAddressError);
  }
  assert.equal(ram.u32(end - 4, 1)[0], 0x1234_5678);
  cpu.validate();
});
