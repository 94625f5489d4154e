// fork(): copy-on-write, AnonExclusive reuse, MADV_DONTFORK / MADV_WIPEONFORK, THP split at fork,
// pin_user_pages, the three policies for DMA-pinned pages, and the CVE-2020-29374 sequence.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Kernel } from '../../../src/mm/kernel.ts';
import { DmaWaitError } from '../../../src/mm/vm/cow.ts';
import { SegvError } from '../../../src/mm/vm/errors.ts';
import { forkAddressSpace } from '../../../src/mm/vm/fork.ts';
import type { ForkStats } from '../../../src/mm/vm/fork.ts';
import { getUserPages, pinUserPages, putUserPages, unpinUserPages } from '../../../src/mm/vm/pin.ts';
import { MADV, MAP, PMD_SIZE, PROT } from '../../../src/mm/vm/types.ts';

const ANON = MAP.PRIVATE | MAP.ANONYMOUS;
const RW = PROT.READ | PROT.WRITE;
const P = 4096;

function setup(): { kernel: Kernel; mm: ReturnType<Kernel['vm']['createAddressSpace']> } {
  const kernel = Kernel.boot({ ramBytes: '64MiB' });
  return { kernel, mm: kernel.vm.createAddressSpace() };
}

function stats(): ForkStats {
  return { sharedPages: 0, dmaCopies: 0, dontforkVmas: 0, wipedVmas: 0 };
}

test('fork shares anonymous pages read-only; the first write copies, the last mapping reuses in place', () => {
  const { kernel, mm } = setup();
  const vm = kernel.vm;
  const a = mm.mmap(0x40000000, 4 * P, RW, ANON);
  mm.writeByte(a, 7);
  mm.writeByte(a + P, 8);
  const s = stats();
  const child = forkAddressSpace(mm, 'early-copy', s);
  assert.equal(s.sharedPages, 2);
  assert.equal(child.rssAnonPages, 2);
  kernel.validate();
  assert.equal(mm.translates(a, 'write'), false, 'the parent entry lost W');
  assert.equal(child.readByte(a), 7);
  const copies = vm.counter('kmem_cow_copy');
  mm.writeByte(a, 9);
  assert.equal(vm.counter('kmem_cow_copy'), copies + 1, 'a write to a shared page copies');
  assert.equal(child.readByte(a), 7, 'the child keeps the old bytes');
  assert.equal(mm.readByte(a), 9);
  const reuses = vm.counter('kmem_cow_reuse');
  child.writeByte(a, 5);
  assert.equal(vm.counter('kmem_cow_copy'), copies + 1, 'the last mapping of a page is reused, not copied');
  assert.equal(vm.counter('kmem_cow_reuse'), reuses + 1);
  kernel.validate();
  child.destroy();
  mm.writeByte(a + P, 1);
  assert.equal(vm.counter('kmem_cow_copy'), copies + 1, 'after the child exits, the parent reuses its page');
  kernel.validate();
});

test('MADV_DONTFORK leaves the VMA out of the child; MADV_WIPEONFORK gives it zeroes; THPs are split at fork', () => {
  const { kernel, mm } = setup();
  const a = mm.mmap(0x40000000, 3 * P, RW, ANON);
  for (let i = 0; i < 3; i++) mm.writeByte(a + i * P, 1 + i);
  mm.madvise(a, P, MADV.DONTFORK);
  mm.madvise(a + 2 * P, P, MADV.WIPEONFORK);
  const h = mm.mmap(0x80000000, PMD_SIZE, RW, ANON);
  mm.writeByte(h + 3, 4);
  assert.equal(mm.mapsHuge(h), true);
  const s = stats();
  const child = forkAddressSpace(mm, 'naive', s);
  assert.deepEqual([s.dontforkVmas, s.wipedVmas], [1, 1]);
  assert.throws(() => child.readByte(a), SegvError);
  assert.equal(child.readByte(a + P), 2);
  assert.equal(child.readByte(a + 2 * P), 0, 'wiped: zero-fill');
  assert.equal(mm.readByte(a + 2 * P), 3, 'the parent keeps its bytes');
  assert.equal(mm.mapsHuge(h), false, 'split, not shared');
  assert.equal(child.readByte(h + 3), 4);
  kernel.validate();
  const grand = forkAddressSpace(child, 'naive');
  assert.equal(grand.readByte(a + 2 * P), 0, 'VM_WIPEONFORK is inherited');
  kernel.validate();
  mm.madvise(a + 2 * P, P, MADV.KEEPONFORK);
  assert.equal(forkAddressSpace(mm, 'naive').readByte(a + 2 * P), 3);
  kernel.validate();
});

test('CVE-2020-29374: a child\'s GUP reference on a COW page it then unmaps never sees the parent\'s later write', () => {
  for (const [kind, viaMprotect] of [['get', false], ['pin', false], ['get', true]] as const) {
    const { kernel, mm } = setup();
    const a = mm.mmap(0x40000000, P, RW, ANON);
    mm.writeByte(a, 0x11);
    const child = forkAddressSpace(mm, 'naive');
    const pfns = kind === 'get' ? getUserPages(child, a, 1, false) : pinUserPages(child, a, 1, false);
    child.munmap(a, P);
    kernel.validate();
    if (viaMprotect) {
      // mprotect back to writable must not make the still-referenced page writable (can_change_pte_writable).
      mm.mprotect(a, P, PROT.READ);
      mm.mprotect(a, P, RW);
      kernel.validate();
    }
    mm.writeByte(a, 0x22);
    const pfn = pfns[0] as number;
    assert.equal(kernel.ram.bytes[pfn * P], 0x11, `${kind}: the child's reference still reads the data from before the parent's write`);
    assert.equal(mm.readByte(a), 0x22);
    kernel.validate();
    if (kind === 'get') putUserPages(kernel.vm, pfns);
    else unpinUserPages(kernel.vm, pfns);
    kernel.validate();
  }
});

test('pin_user_pages faults pages in, pins with bias 1024, unshares a COW page; unpin frees an unmapped page', () => {
  const { kernel, mm } = setup();
  const vm = kernel.vm;
  const a = mm.mmap(0x40000000, 2 * P, RW, ANON);
  const pfns = pinUserPages(mm, a, 2, true);
  assert.equal(vm.memMap.refcount[pfns[0] as number], 1025);
  assert.equal(vm.counter('kmem_gup_refs'), 2048);
  kernel.validate();
  mm.munmap(a, 2 * P);
  kernel.validate();
  const free = kernel.pages.stats().freePages;
  unpinUserPages(vm, pfns);
  assert.equal(kernel.pages.stats().freePages, free + 2);
  assert.throws(() => unpinUserPages(vm, pfns));
  kernel.validate();
});

test('fork policies for a page pinned for DMA: naive loses the device\'s data, early-copy and defer-write keep it', () => {
  for (const policy of ['naive', 'early-copy', 'defer-write'] as const) {
    const { kernel, mm } = setup();
    const a = mm.mmap(0x40000000, P, RW, ANON);
    const [pfn] = pinUserPages(mm, a, 1, true) as [number];
    const s = stats();
    const child = forkAddressSpace(mm, policy, s);
    assert.equal(s.dmaCopies, policy === 'early-copy' ? 1 : 0);
    let waited = false;
    try {
      mm.writeByte(a + 2048, 0x33);
    } catch (e) {
      assert.ok(e instanceof DmaWaitError && policy === 'defer-write');
      waited = true;
    }
    // The device completes its receive into the frame it was given, then the driver unpins.
    kernel.ram.bytes[pfn * P] = 0x44;
    unpinUserPages(kernel.vm, [pfn]);
    if (waited) mm.writeByte(a + 2048, 0x33);
    assert.equal(waited, policy === 'defer-write');
    assert.equal(mm.readByte(a + 2048), 0x33);
    if (policy === 'naive') assert.equal(mm.readByte(a), 0, 'naive: the device wrote a frame the parent no longer maps');
    else assert.equal(mm.readByte(a), 0x44, `${policy}: the device's bytes are where the parent expects them`);
    kernel.validate();
    child.destroy();
    kernel.validate();
  }
});
