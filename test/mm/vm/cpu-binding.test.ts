// The kernel's fault handler and TLB flushes on the emulated CPU.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Cpu } from '../../../src/machine/cpu.ts';
import { skylake } from '../../../src/machine/tlb-presets.ts';
import { Kernel } from '../../../src/mm/kernel.ts';
import { bindCpu, pcidOf } from '../../../src/mm/vm/cpu-binding.ts';
import { SegvError } from '../../../src/mm/vm/errors.ts';
import { setThpSettings } from '../../../src/mm/vm/thp-settings.ts';
import { bootWithCpu } from '../../helpers/bound-cpu.ts';
import { MADV, MAP, PMD_SIZE, PROT } from '../../../src/mm/vm/types.ts';

const ANON = MAP.PRIVATE | MAP.ANONYMOUS;
const RW = PROT.READ | PROT.WRITE;
const P = 4096;

test('CPU loads and stores fault pages in through the kernel handler; a refused access is the SegvError', () => {
  const kernel = Kernel.boot({ ramBytes: '32MiB' });
  const vm = kernel.vm;
  const mm = vm.createAddressSpace();
  const cpu = new Cpu(kernel.ram, { preset: skylake() });
  bindCpu(vm, cpu).switchTo(mm);
  const a = mm.mmap(0, 16 * P, RW, ANON);
  for (let i = 0; i < 16; i++) cpu.store32(a + i * P + 8, i + 100);
  for (let i = 0; i < 16; i++) assert.equal(cpu.load32(a + i * P + 8), i + 100);
  assert.equal(mm.rssAnonPages, 16);
  assert.equal(mm.readByte(a + 3 * P + 8), 103, 'the kernel sees what the CPU wrote');
  // The typed fault names the address, the access and the reason, in its fields and its message.
  assert.throws(() => cpu.load8(a + 16 * P + 5), (e: unknown) => e instanceof SegvError && e.reason === 'not-mapped' && e.vaddr === a + 16 * P + 5 && e.access === 'read' && e.message.startsWith(`read of 0x${(a + 16 * P + 5).toString(16)}:`));
  mm.mprotect(a, P, PROT.READ);
  assert.throws(() => cpu.store32(a + 12, 1), (e: unknown) => e instanceof SegvError && e.reason === 'protection' && e.vaddr === a + 12 && e.access === 'write' && e.message.startsWith(`write of 0x${(a + 12).toString(16)}:`));
  assert.equal(cpu.load32(a + 8), 100, 'the refused store changed nothing');
  kernel.validate();
});

test('a CPU access to the kernel half is never demand-faulted: a vmalloc guard page, a user access to a kernel page, a hole', () => {
  const kernel = Kernel.boot({ ramBytes: '32MiB' });
  const vm = kernel.vm;
  const mm = vm.createAddressSpace();
  const cpu = new Cpu(kernel.ram, { preset: skylake() });
  bindCpu(vm, cpu).switchTo(mm);
  const v = vm.vmalloc(2 * P)!;
  cpu.setUser(false);
  cpu.store8(v + P, 5);
  assert.equal(cpu.load8(v + P), 5);
  const refused = (vaddr: number, access: 'read' | 'write', reason: string) => (e: unknown) => e instanceof SegvError && e.vaddr === vaddr && e.access === access && e.reason === reason;
  assert.throws(() => cpu.load8(v + 2 * P + 7), refused(v + 2 * P + 7, 'read', 'guard-page'), 'the guard page after the area');
  assert.throws(() => cpu.store8(v + 2 * P, 1), refused(v + 2 * P, 'write', 'guard-page'));
  assert.throws(() => cpu.load8(v + 3 * P), refused(v + 3 * P, 'read', 'not-mapped'), 'past the guard page: nothing');
  cpu.setUser(true);
  assert.throws(() => cpu.load8(v), refused(v, 'read', 'protection'), 'user mode reading a kernel page');
  assert.equal(mm.rssAnonPages, 0, 'no fault mapped anything in the process');
  kernel.validate();
});

test('no CPU reads through a stale TLB entry after munmap, mprotect or MADV_DONTNEED returns', () => {
  const { kernel, mm, cpu } = bootWithCpu({ ramBytes: '32MiB', tlbEntries: 64 });
  const a = mm.mmap(0, 64 * P, RW, ANON);
  for (let i = 0; i < 64; i++) cpu.store8(a + i * P, 1);
  assert.equal(cpu.load8(a), 1, 'cached in the TLB');
  mm.madvise(a, P, MADV.DONTNEED);
  assert.equal(cpu.load8(a), 0, 'DONTNEED: a fresh zero page, not the freed frame');
  mm.mprotect(a + P, P, PROT.READ);
  assert.throws(() => cpu.store8(a + P, 2), (e: unknown) => e instanceof SegvError && e.reason === 'protection');
  mm.munmap(a + 2 * P, 40 * P);
  assert.throws(() => cpu.load8(a + 2 * P), SegvError, 'a range flush above the 33-page ceiling flushes the PCID');
  assert.throws(() => cpu.load8(a + 41 * P), SegvError);
  assert.equal(cpu.load8(a + 42 * P), 1);
  kernel.validate();
});

test('two address spaces on one CPU with PCIDs: switching keeps each one\'s bytes apart', () => {
  const kernel = Kernel.boot({ ramBytes: '32MiB' });
  const vm = kernel.vm;
  const one = vm.createAddressSpace();
  const two = vm.createAddressSpace();
  const cpu = new Cpu(kernel.ram, { preset: skylake() });
  const binding = bindCpu(vm, cpu);
  const a = one.mmap(0x40000000, P, RW, ANON);
  assert.equal(two.mmap(0x40000000, P, RW, ANON), a);
  binding.switchTo(one);
  cpu.store8(a, 11);
  binding.switchTo(two);
  cpu.store8(a, 22);
  binding.switchTo(one);
  assert.equal(cpu.load8(a), 11);
  one.munmap(a, P);
  binding.switchTo(two);
  assert.equal(cpu.load8(a), 22);
  binding.switchTo(one);
  assert.throws(() => cpu.load8(a), SegvError);
  kernel.validate();
});

test('two address spaces that share a PCID (pids 4095 apart) keep their bytes apart; distinct PCIDs still switch without a flush', () => {
  const kernel = Kernel.boot({ ramBytes: '32MiB' });
  const vm = kernel.vm;
  const one = vm.createAddressSpace();
  const other = vm.createAddressSpace(); // another PCID
  let two = vm.createAddressSpace();
  for (let tries = 0; pcidOf(two) !== pcidOf(one); tries++) {
    assert.ok(tries < 2 * 4095, 'no pid reached the first one\'s PCID');
    two.destroy();
    two = vm.createAddressSpace();
  }
  assert.notEqual(two.pid, one.pid);
  const cpu = new Cpu(kernel.ram, { preset: skylake() });
  const binding = bindCpu(vm, cpu);
  const a = one.mmap(0x40000000, P, RW, ANON);
  assert.equal(two.mmap(0x40000000, P, RW, ANON), a);
  assert.equal(other.mmap(0x40000000, P, RW, ANON), a);
  two.writeByte(a, 22);
  binding.switchTo(one);
  cpu.store8(a, 11);
  binding.switchTo(two);
  assert.equal(cpu.load8(a), 22, 'two read through one\'s TLB entry');
  cpu.store8(a, 23);
  binding.switchTo(one);
  assert.equal(cpu.load8(a), 11, 'one read through two\'s TLB entry');
  // Between PCIDs of their own, a switch keeps the entries: no walk on the way back.
  binding.switchTo(other);
  cpu.store8(a, 44);
  binding.switchTo(one);
  const walks = cpu.stats().walks;
  assert.equal(cpu.load8(a), 11);
  assert.equal(cpu.stats().walks, walks, 'the switch to another PCID flushed one\'s entries');
  assert.equal(two.readByte(a), 23);
  kernel.validate();
});

test('no CPU reads through a stale TLB entry after compaction migrates its pages or khugepaged collapses them', () => {
  // Compaction: most of RAM in 4 KiB pages, all but every 64th unmapped; the CPU caches a
  // translation of each page left, compaction moves them, then the kernel writes each page anew.
  {
    const { kernel, vm, mm, cpu } = bootWithCpu({ ramBytes: '32MiB', tlbEntries: 1024, thp: 'never' });
    const pages = kernel.pages.freePagesTotal - 600;
    const a = mm.mmap(0x40000000, pages * P, RW, ANON);
    for (let i = 0; i < pages; i++) mm.writeByte(a + i * P, 1);
    for (let i = 0; i < pages; i += 64) mm.munmap(a + (i + 1) * P, 63 * P);
    for (let i = 0; i < pages; i += 64) assert.equal(cpu.load8(a + i * P), 1);
    const walks = cpu.stats().walks;
    for (let i = 0; i < pages; i += 64) cpu.load8(a + i * P);
    assert.equal(cpu.stats().walks, walks, 'every page left is in the TLB');
    assert.equal(vm.compact(9), 'success');
    assert.ok(vm.counter('pgmigrate_success') > 0);
    for (let i = 0; i < pages; i += 64) mm.writeByte(a + i * P, 2);
    for (let i = 0; i < pages; i += 64) assert.equal(cpu.load8(a + i * P), 2, `page ${i}: the CPU reads the frame the page now lives in`);
    kernel.validate();
  }
  // khugepaged: the CPU caches 512 small pages' translations; the collapse copies them into one
  // THP and frees them.
  {
    const { kernel, vm, mm, cpu } = bootWithCpu({ ramBytes: '64MiB', tlbEntries: 1024, thp: 'never' });
    const a = mm.mmap(0x40000000, PMD_SIZE, RW, ANON);
    for (let i = 0; i < 512; i++) cpu.store8(a + i * P, 1);
    setThpSettings(vm, { enabled: 'always' });
    assert.equal(vm.khugepaged(), 1);
    for (let i = 0; i < 512; i++) mm.writeByte(a + i * P, 2);
    for (let i = 0; i < 512; i++) assert.equal(cpu.load8(a + i * P), 2, `page ${i}: the CPU reads the THP, not the small page it replaced`);
    kernel.validate();
  }
});
