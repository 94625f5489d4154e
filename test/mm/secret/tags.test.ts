// Sensitivity tags on ordinary memory: madvise DONTDUMP/DODUMP and WIPEONFORK/KEEPONFORK, mlock,
// the page allocator dropping tags on free, and kfreeSensitive's wipe of exactly ksize() bytes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Kernel } from '../../../src/mm/kernel.ts';
import { GFP } from '../../../src/mm/gfp.ts';
import { PAGE_SENSITIVITY_TAGS, PageFlag } from '../../../src/mm/types.ts';
import { SyscallError } from '../../../src/mm/vm/errors.ts';
import { MADV, MAP, PROT, VM } from '../../../src/mm/vm/types.ts';
import { mlock, munlock, userPfn } from '../../../src/mm/secret/tags.ts';
import { secretAlloc } from '../../../src/mm/secret/secretmem.ts';
import { Prng } from '../../../src/util/prng.ts';

const P = 4096;
const RW = PROT.READ | PROT.WRITE;
const ANON = MAP.PRIVATE | MAP.ANONYMOUS;

test('the page allocator clears sensitivity tags when a block is freed, at every order and on both free paths', () => {
  const kernel = Kernel.boot({ ramBytes: '32MiB' });
  const pages = kernel.pages;
  const flags = kernel.memMap.flags;
  for (const order of [0, 0, 1, 3, 5]) {
    const pfn = pages.allocPages(order, GFP.KERNEL);
    assert.ok(pfn !== null);
    for (let p = pfn; p < pfn + (1 << order); p++) flags[p] = (flags[p] as number) | PAGE_SENSITIVITY_TAGS;
    pages.freePages(pfn, order);
    for (let p = pfn; p < pfn + (1 << order); p++) assert.equal((flags[p] as number) & PAGE_SENSITIVITY_TAGS, 0, `order ${order} pfn ${p}`);
    kernel.validate();
  }
  pages.drainPages();
  // And one allocated again carries none either.
  const again = pages.allocPages(3, GFP.KERNEL) as number;
  for (let p = again; p < again + 8; p++) assert.equal((flags[p] as number) & PAGE_SENSITIVITY_TAGS, 0);
  pages.freePages(again, 3);
  kernel.validate();
});

test('validate refuses a free page that still carries a tag', () => {
  const kernel = Kernel.boot({ ramBytes: '32MiB' });
  const pfn = kernel.pages.allocPages(2, GFP.KERNEL) as number;
  kernel.pages.freePages(pfn, 2);
  kernel.memMap.flags[pfn + 1] = (kernel.memMap.flags[pfn + 1] as number) | PageFlag.NoDump;
  assert.throws(() => kernel.validate(), /0x400|inside the free block/);
  kernel.memMap.flags[pfn + 1] = (kernel.memMap.flags[pfn + 1] as number) & ~PageFlag.NoDump;
  kernel.validate();
});

test('MADV_DONTDUMP tags mapped pages and later faults NoDump; MADV_DODUMP clears them', () => {
  const kernel = Kernel.boot({ ramBytes: '32MiB' });
  const mm = kernel.vm.createAddressSpace();
  const flags = kernel.memMap.flags;
  const a = mm.mmap(0, 8 * P, RW, ANON);
  mm.write(a, new Uint8Array(4 * P).fill(1)); // pages 0..3 mapped
  mm.madvise(a + P, 6 * P, MADV.DONTDUMP);
  assert.equal(kernel.vm.vmas.flags(mm.vmaContaining(a + P)) & VM.DONTDUMP, VM.DONTDUMP);
  assert.equal(kernel.vm.vmas.flags(mm.vmaContaining(a)) & VM.DONTDUMP, 0, 'split at the range');
  mm.write(a + 5 * P, new Uint8Array(1).fill(2)); // faulted after the advice
  const tagged = (i: number): boolean => ((flags[userPfn(mm, a + i * P)] as number) & PageFlag.NoDump) !== 0;
  assert.deepEqual([0, 1, 2, 3, 5].map(tagged), [false, true, true, true, true]);
  mm.madvise(a, 8 * P, MADV.DODUMP);
  assert.deepEqual([0, 1, 2, 3, 5].map(tagged), [false, false, false, false, false]);
  assert.throws(() => mm.madvise(a + 100, P, MADV.DONTDUMP), (e: unknown) => e instanceof SyscallError && e.errno === 'EINVAL');
  assert.throws(() => mm.madvise(a, 16 * P, MADV.DONTDUMP), (e: unknown) => e instanceof SyscallError && e.errno === 'ENOMEM', 'a hole: ENOMEM after the mapped part');
  kernel.validate();
});

test('MADV_WIPEONFORK / KEEPONFORK set and clear VM_WIPEONFORK, splitting and merging VMAs', () => {
  const kernel = Kernel.boot({ ramBytes: '32MiB' });
  const mm = kernel.vm.createAddressSpace();
  const a = mm.mmap(0, 4 * P, RW, ANON);
  mm.madvise(a, 2 * P, MADV.WIPEONFORK);
  assert.equal(kernel.vm.vmas.flags(mm.vmaContaining(a)) & VM.WIPEONFORK, VM.WIPEONFORK);
  assert.equal(kernel.vm.vmas.flags(mm.vmaContaining(a + 2 * P)) & VM.WIPEONFORK, 0);
  mm.madvise(a, 4 * P, MADV.KEEPONFORK);
  assert.equal(mm.mapCount, 1, 'flags equal again: the VMAs merge back');
  kernel.validate();
});

test('mlock populates and tags Mlocked; DONTNEED is refused while locked; munlock clears; secret memory refuses munlock', () => {
  const kernel = Kernel.boot({ ramBytes: '32MiB' });
  const mm = kernel.vm.createAddressSpace();
  const flags = kernel.memMap.flags;
  const a = mm.mmap(0, 6 * P, RW, ANON);
  mlock(mm, a + P + 10, 2 * P); // pages 1..3 (start rounded down, end rounded up)
  const locked = (i: number): boolean => {
    const pfn = userPfn(mm, a + i * P);
    return pfn >= 0 && ((flags[pfn] as number) & PageFlag.Mlocked) !== 0;
  };
  assert.deepEqual([0, 1, 2, 3, 4].map(locked), [false, true, true, true, false]);
  assert.equal(userPfn(mm, a), -1, 'outside the range nothing was faulted in');
  assert.throws(() => mm.madvise(a + P, P, MADV.DONTNEED), (e: unknown) => e instanceof SyscallError && e.errno === 'EINVAL');
  munlock(mm, a, 6 * P);
  assert.deepEqual([1, 2, 3].map(locked), [false, false, false]);
  mm.madvise(a + P, P, MADV.DONTNEED);
  assert.throws(() => mlock(mm, a, 64 * P), (e: unknown) => e instanceof SyscallError && e.errno === 'ENOMEM');
  const region = secretAlloc(mm, 100);
  assert.throws(() => munlock(mm, region.start, P), (e: unknown) => e instanceof SyscallError && e.errno === 'EPERM');
  kernel.validate();
});

test('kfreeSensitive zeroes exactly ksize() bytes (bar the free link), and plain kfree does not', () => {
  const kernel = Kernel.boot({ ramBytes: '32MiB' });
  const bytes = kernel.ram.bytes;
  const prng = new Prng(3);
  for (let i = 0; i < 60; i++) {
    const size = 1 + prng.int(i < 50 ? 2048 : 20000);
    const objs = [kernel.kmalloc(size), kernel.kmalloc(size), kernel.kmalloc(size)];
    const mid = objs[1] as number;
    const k = kernel.ksize(mid);
    assert.ok(k >= size);
    for (const o of objs) bytes.fill(0xc3, o, o + kernel.ksize(o));
    const sensitive = i % 2 === 0;
    if (sensitive) kernel.kfreeSensitive(mid);
    else kernel.kfree(mid);
    const nonZero: number[] = [];
    for (let b = 0; b < k; b++) if (bytes[mid + b] !== 0) nonZero.push(b);
    if (sensitive) {
      assert.ok(nonZero.length <= 4 && (nonZero.length === 0 || (nonZero.at(-1) as number) - (nonZero[0] as number) < 4), `size ${size}: ${nonZero.length} bytes survive`);
    } else {
      assert.ok(nonZero.length >= k - 8, `plain kfree leaves the bytes (size ${size})`);
    }
    for (const o of [objs[0] as number, objs[2] as number]) assert.ok(bytes.subarray(o, o + kernel.ksize(o)).every((b) => b === 0xc3), 'neighbours untouched');
    kernel.kfree(objs[0] as number);
    kernel.kfree(objs[2] as number);
    kernel.validate();
  }
});

test('compaction carries NoDump/Mlocked tags to the page it migrates to, and never moves a secret page', () => {
  const kernel = Kernel.boot({ ramBytes: '32MiB' });
  const vm = kernel.vm;
  const mm = vm.createAddressSpace();
  const flags = kernel.memMap.flags;
  // Scatter: map many pages, free every other one so compaction has work.
  const a = mm.mmap(0, 512 * P, RW, ANON);
  mm.madvise(a, 512 * P, MADV.NOHUGEPAGE);
  mm.write(a, new Uint8Array(512 * P).fill(1));
  for (let i = 0; i < 512; i += 2) mm.madvise(a + i * P, P, MADV.DONTNEED);
  mm.madvise(a, 512 * P, MADV.DONTDUMP);
  const region = secretAlloc(mm, 8 * P);
  const secretPfns = Array.from({ length: 8 }, (_, i) => userPfn(mm, region.start + i * P));
  const before = Array.from({ length: 256 }, (_, i) => userPfn(mm, a + (2 * i + 1) * P));
  vm.compact(-1);
  const after = Array.from({ length: 256 }, (_, i) => userPfn(mm, a + (2 * i + 1) * P));
  assert.ok(after.some((pfn, i) => pfn !== before[i]), 'some pages moved');
  for (const pfn of after) assert.notEqual((flags[pfn] as number) & PageFlag.NoDump, 0);
  assert.deepEqual(Array.from({ length: 8 }, (_, i) => userPfn(mm, region.start + i * P)), secretPfns);
  kernel.validate();
});
