// /proc formats (Linux fs/proc/task_mmu.c, fs/proc/meminfo.c), the direct map and vmalloc.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Cpu } from '../../../src/machine/cpu.ts';
import { skylake } from '../../../src/machine/tlb-presets.ts';
import { mlock } from '../../../src/mm/secret/tags.ts';
import { forkAddressSpace } from '../../../src/mm/vm/fork.ts';
import { Kernel } from '../../../src/mm/kernel.ts';
import { bindCpu } from '../../../src/mm/vm/cpu-binding.ts';
import { GFP } from '../../../src/mm/gfp.ts';
import { SegvError } from '../../../src/mm/vm/errors.ts';
import { DIRECT_MAP_BASE, MAP, PROT, VMALLOC_START } from '../../../src/mm/vm/types.ts';

const ANON = MAP.PRIVATE | MAP.ANONYMOUS;
const RW = PROT.READ | PROT.WRITE;
const P = 4096;

test('/proc/<pid>/maps: one line per VMA, anonymous with a trailing space, [heap] at column 73', () => {
  const kernel = Kernel.boot({ ramBytes: '32MiB' });
  const mm = kernel.vm.createAddressSpace();
  const a = mm.mmap(0, 2 * P, RW, ANON);
  mm.mmap(a - P, P, PROT.READ | PROT.EXEC, ANON | MAP.FIXED);
  mm.brk(mm.brk(0) + 3 * P);
  const lines = mm.maps().split('\n');
  assert.equal(lines.length, 4);
  assert.equal(lines[0], `00600000-00603000 rw-p 00000000 00:00 0${' '.repeat(34)}[heap]`);
  assert.equal(lines[0]?.indexOf('[heap]'), 73);
  assert.equal(lines[1], `${(a - P).toString(16)}-${a.toString(16)} r-xp 00000000 00:00 0 `);
  assert.equal(lines[2], `${a.toString(16)}-${(a + 2 * P).toString(16)} rw-p 00000000 00:00 0 `);
});

test('/proc/<pid>/smaps_rollup: Rss counts written pages (not the zero page), Pss and dirty state, Linux layout', () => {
  const kernel = Kernel.boot({ ramBytes: '32MiB' });
  const mm = kernel.vm.createAddressSpace();
  const a = mm.mmap(0, 4 * P, RW, ANON);
  mm.writeByte(a, 1);
  mm.writeByte(a + P, 1);
  mm.readByte(a + 2 * P);
  const text = mm.smapsRollup();
  const lines = text.split('\n');
  assert.equal(lines[0], `${a.toString(16)}-${(a + 4 * P).toString(16)} ---p 00000000 00:00 0${' '.repeat(26)}[rollup]`);
  assert.equal(lines[1], 'Rss:                   8 kB');
  assert.match(text, /^Pss:\s+8 kB$/m);
  assert.match(text, /^Private_Dirty:\s+8 kB$/m);
  assert.match(text, /^Anonymous:\s+8 kB$/m);
  assert.match(text, /^AnonHugePages:\s+0 kB$/m);
  assert.equal(lines.find((l) => l.startsWith('Private_Hugetlb')), 'Private_Hugetlb:       0 kB');
  for (const line of lines.slice(1, -1)) assert.equal(line.length, 27, line);
});

test('/proc/<pid>/smaps_rollup: Locked is the Pss of the pages in mlocked VMAs', () => {
  const kernel = Kernel.boot({ ramBytes: '32MiB' });
  const mm = kernel.vm.createAddressSpace();
  const a = mm.mmap(0, 16 * P, RW, ANON);
  for (let i = 0; i < 16; i++) mm.writeByte(a + i * P, 1);
  const locked = (text: string): string | undefined => text.split('\n').find((l) => l.startsWith('Locked:'));
  assert.equal(locked(mm.smapsRollup()), 'Locked:                0 kB');
  mlock(mm, a + 4 * P, 4 * P);
  assert.equal(locked(mm.smapsRollup()), 'Locked:               16 kB');
  // Shared with a child (fork does not pass mlock on): each locked page counts half in the parent.
  const child = forkAddressSpace(mm, 'early-copy');
  assert.equal(locked(mm.smapsRollup()), 'Locked:                8 kB');
  assert.equal(locked(child.smapsRollup()), 'Locked:                0 kB');
  kernel.validate();
});

test('/proc/meminfo and /proc/vmstat follow the page tables, vmalloc and faults', () => {
  const kernel = Kernel.boot({ ramBytes: '32MiB' });
  const vm = kernel.vm;
  const mm = vm.createAddressSpace();
  const a = mm.mmap(0, P, RW, ANON);
  mm.writeByte(a, 1);
  const v = vm.vmalloc(3 * P);
  assert.ok(v !== null);
  const info = vm.meminfo();
  for (const line of info.trimEnd().split('\n')) assert.match(line, /^[A-Za-z()]+:\s+\d+ kB$/);
  assert.match(info, new RegExp(`^PageTables:\\s+${mm.pageTablePages * 4} kB$`, 'm'));
  assert.match(info, /^VmallocUsed:\s+12 kB$/m);
  assert.match(info, /^AnonPages:\s+4 kB$/m);
  assert.match(info, /^MemTotal:\s+\d+ kB$/m);
  assert.match(vm.vmstat(), /^pgfault 1$/m);
  assert.match(vm.vmstat(), /^nr_anon_pages 1$/m);
  assert.equal(vm.stats().vmallocPages, 3);
});

test('the direct map: every byte of RAM at DIRECT_MAP_BASE + paddr, through 2 MiB kernel mappings', () => {
  const kernel = Kernel.boot({ ramBytes: '33MiB' });
  const vm = kernel.vm;
  kernel.ram.bytes[0x123456] = 0xab;
  kernel.ram.bytes[33 * 1024 * 1024 - 1] = 0xcd;
  assert.equal(vm.kernelRead(vm.directMapAddress(0x123456), 1)[0], 0xab);
  assert.equal(vm.kernelRead(DIRECT_MAP_BASE + 33 * 1024 * 1024 - 1, 1)[0], 0xcd, 'the 1 MiB tail past the last 2 MiB page, in 4 KiB pages');
  assert.equal(vm.walker.pageShift, 12);
  vm.kernelRead(DIRECT_MAP_BASE, 1);
  assert.equal(vm.walker.pageShift, 21);
  assert.throws(() => vm.kernelRead(DIRECT_MAP_BASE + 33 * 1024 * 1024, 1), SegvError);
  // PAGE_KERNEL: supervisor-only, no-execute, global. A CPU bound to a process sees the direct map
  // (the kernel half of every PGD) in supervisor mode only, never executes it, and keeps its
  // translations across a PCID flush that keeps globals.
  const mm = vm.createAddressSpace();
  const cpu = new Cpu(kernel.ram, { preset: skylake() });
  bindCpu(vm, cpu).switchTo(mm);
  const secret = vm.directMapAddress(0x123456);
  cpu.setUser(true);
  // (The hardware fault is a protection fault; the kernel reports it as Linux does for a user access
  // above TASK_SIZE, SEGV_MAPERR. Were U set, the read would succeed.)
  assert.throws(() => cpu.load8(secret), SegvError, 'a user access to the direct map');
  cpu.setUser(false);
  assert.equal(cpu.load8(secret), 0xab);
  const walks = cpu.stats().walks;
  cpu.flushAll(true); // a CR3 write without PCIDs: every non-global entry goes
  assert.equal(cpu.load8(secret), 0xab);
  assert.equal(cpu.stats().walks, walks, 'global: the translation survived the flush');
  assert.throws(() => cpu.translate(secret, 'exec'), (e: unknown) => e instanceof SegvError && e.access === 'exec', 'no-execute');
});

test('vmalloc: virtually contiguous over scattered pages, a trailing guard page that faults, vfree returns the pages', () => {
  const kernel = Kernel.boot({ ramBytes: '32MiB' });
  const vm = kernel.vm;
  const a = vm.vmalloc(2 * P + 1);
  const b = vm.vmalloc(P);
  assert.ok(a !== null && b !== null);
  assert.equal(a, VMALLOC_START);
  assert.equal(b, a + 4 * P, 'three pages and a guard page');
  const data = new Uint8Array(3 * P).map((_, i) => i & 0xff);
  vm.kernelWrite(a, data);
  assert.deepEqual(vm.kernelRead(a, 3 * P), data);
  assert.throws(() => vm.kernelRead(a + 3 * P, 1), (e: unknown) => e instanceof SegvError && e.reason === 'guard-page');
  kernel.validate();
  const free = kernel.pages.freePagesTotal;
  vm.vfree(a);
  assert.equal(kernel.pages.freePagesTotal, free + 3);
  assert.throws(() => vm.kernelRead(a, 1), SegvError);
  assert.equal(vm.vmalloc(P), a, 'first fit reuses the hole');
  kernel.validate();
});

test('vmalloc needs no physically contiguous memory: 64 KiB from a machine with no free block above one page', () => {
  const kernel = Kernel.boot({ ramBytes: '32MiB' });
  const vm = kernel.vm;
  // Every free page taken one at a time, then every other one given back: no two free pages are buddies.
  const held: number[] = [];
  for (const gfp of [GFP.KERNEL, GFP.DMA]) {
    for (let pfn = kernel.pages.tryAllocPages(0, gfp | GFP.NORETRY); pfn !== null; pfn = kernel.pages.tryAllocPages(0, gfp | GFP.NORETRY)) held.push(pfn);
  }
  held.sort((x, y) => x - y);
  for (let i = 0; i < held.length; i += 2) kernel.pages.freePages(held[i] as number, 0);
  for (const gfp of [GFP.KERNEL, GFP.DMA]) assert.equal(kernel.pages.tryAllocPages(1, gfp | GFP.NORETRY), null, 'no order-1 block is free');
  const a = vm.vmalloc(16 * P);
  assert.ok(a !== null);
  const data = new Uint8Array(16 * P).map((_, i) => (i * 13) & 0xff);
  vm.kernelWrite(a, data);
  assert.deepEqual(vm.kernelRead(a, 16 * P), data, 'virtually contiguous');
  kernel.validate();
});

test('another worker attaching to the arena finds the same address spaces, caches and kernel tables', () => {
  const kernel = Kernel.boot({ ramBytes: '32MiB', shared: true });
  const mm = kernel.vm.createAddressSpace();
  const a = mm.mmap(0, P, RW, ANON);
  mm.writeByte(a, 42);
  const other = Kernel.attach(kernel.buffer);
  const same = other.vm.addressSpace(mm.pid);
  assert.ok(same !== undefined);
  assert.equal(same.readByte(a), 42);
  assert.equal(other.vm.kernelPgdPfn, kernel.vm.kernelPgdPfn);
  other.validate();
});
