// Anonymous-page swap: the device, reclaim's LRU with the accessed bit's second chance, swap PTEs,
// swap-in, fork and munmap, and the rule that locked and secret pages never reach the device.
import { test } from 'node:test';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { PTE_ACCESSED } from '../../../src/machine/pte.ts';
import { Kernel } from '../../../src/mm/kernel.ts';
import { mlock, munlock } from '../../../src/mm/secret/tags.ts';
import { secretAlloc } from '../../../src/mm/secret/secretmem.ts';
import { BufferBacking } from '../../../src/mm/swap/backing.ts';
import type { SwapBacking } from '../../../src/mm/swap/backing.ts';
import { SwapDeviceError, SwapIoError } from '../../../src/mm/swap/errors.ts';
import { FileBacking } from '../../../src/mm/swap/file.ts';
import { swapoff } from '../../../src/mm/swap/swapoff.ts';
import { isSwapPte, swpOffset } from '../../../src/mm/swap/swp-entry.ts';
import { swapAttach, swapMap, swapon } from '../../../src/mm/swap/swapfile.ts';
import { hibernate, resume } from '../../../src/mm/hibernate/image.ts';
import { SyscallError } from '../../../src/mm/vm/errors.ts';
import { SWAP_COUNT_MAX, SWAP_HEADER } from '../../../src/mm/swap/types.ts';
import { swapStats } from '../../../src/mm/swap/validate.ts';
import { inactiveIsLow, reclaimPages } from '../../../src/mm/swap/vmscan.ts';
import { forkAddressSpace } from '../../../src/mm/vm/fork.ts';
import { setThpSettings } from '../../../src/mm/vm/thp-settings.ts';
import type { AddressSpace } from '../../../src/mm/vm/mm-struct.ts';
import { MADV, MAP, PROT, VM } from '../../../src/mm/vm/types.ts';
import { Prng } from '../../../src/util/prng.ts';

const P = 4096;
const RW = PROT.READ | PROT.WRITE;
const ANON = MAP.PRIVATE | MAP.ANONYMOUS;

/** A page's worth of seeded bytes. */
function pattern(seed: number): Uint8Array {
  const prng = new Prng(seed);
  return new Uint8Array(P).map(() => prng.int(256));
}

/** The low word of the leaf entry at vaddr (0 when there is none). */
function pteLo(mm: AddressSpace, vaddr: number): number {
  const slot = mm.vm.tables.entry(mm.pgdPfn, vaddr, 1, false);
  return slot < 0 ? 0 : (mm.vm.u[slot] as number);
}

const swapped = (mm: AddressSpace, vaddr: number): boolean => isSwapPte(pteLo(mm, vaddr));

/** Whether `needle` occurs in `hay`. */
function contains(hay: Uint8Array, needle: Uint8Array): boolean {
  outer: for (let i = hay.indexOf(needle[0] as number); i >= 0 && i + needle.length <= hay.length; i = hay.indexOf(needle[0] as number, i + 1)) {
    for (let j = 1; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer;
    return true;
  }
  return false;
}

function setup(slots = 256): { kernel: Kernel; mm: AddressSpace; backing: BufferBacking } {
  const kernel = Kernel.boot({ ramBytes: '32MiB' });
  const backing = BufferBacking.create(slots);
  swapon(kernel.vm, backing);
  return { kernel, mm: kernel.vm.createAddressSpace(), backing };
}

test('swap out then in: every byte comes back, the slot is freed, the counters and /proc follow', () => {
  const { kernel, mm, backing } = setup();
  const vm = kernel.vm;
  const n = 16;
  const a = mm.mmap(0, n * P, RW, ANON);
  for (let i = 0; i < n; i++) mm.write(a + i * P, pattern(i));
  assert.equal(swapStats(vm).lru.inactive, n);
  const r = reclaimPages(vm, n);
  assert.equal(r.reclaimed, n);
  // Each page was looked at twice: first kept (its accessed bit from the fault), then taken.
  assert.equal(r.kept, n);
  for (let i = 0; i < n; i++) assert.ok(swapped(mm, a + i * P), `page ${i} is a swap PTE`);
  assert.equal(mm.rssAnonPages, 0);
  assert.equal(mm.swapEntries, n);
  assert.equal(swapStats(vm).usedPages, n);
  assert.equal(vm.counter('pswpout'), n);
  // The bytes are in the device, at the slot each swap PTE names; slot 0 is the mkswap header.
  for (let i = 0; i < n; i++) {
    const slot = swpOffset(pteLo(mm, a + i * P));
    assert.deepEqual(backing.bytes.subarray(slot * P, (slot + 1) * P), pattern(i));
  }
  const header = new TextDecoder().decode(backing.bytes.subarray(P - 10, P));
  assert.equal(header, SWAP_HEADER.MAGIC);
  assert.equal(new DataView(backing.buffer as ArrayBuffer).getUint32(SWAP_HEADER.LAST_PAGE_BYTE, true), 255);
  assert.match(vm.meminfo(), /^SwapTotal:\s+1020 kB$/m);
  assert.match(vm.meminfo(), new RegExp(`^SwapFree:\\s+${(255 - n) * 4} kB$`, 'm'));
  assert.match(mm.smapsRollup(), new RegExp(`^Swap:\\s+${n * 4} kB$`, 'm'));
  kernel.validate();
  for (let i = 0; i < n; i++) assert.deepEqual(mm.read(a + i * P, P), pattern(i));
  assert.equal(vm.counter('pswpin'), n);
  assert.match(vm.vmstat(), new RegExp(`^pswpin ${n}$`, 'm'));
  assert.match(vm.vmstat(), new RegExp(`^pswpout ${n}$`, 'm'));
  assert.equal(swapStats(vm).usedPages, 0);
  assert.equal(mm.swapEntries, 0);
  assert.equal(mm.rssAnonPages, n);
  kernel.validate();
  // A write to a swapped page: swapped in, then written.
  reclaimPages(vm, n);
  mm.writeByte(a + 5, 0xee);
  const want = pattern(0);
  want[5] = 0xee;
  assert.deepEqual(mm.read(a, P), want);
  kernel.validate();
});

/** Clears the accessed bit of the entry at vaddr, as a scan long ago would have. */
function age(mm: AddressSpace, vaddr: number): void {
  const slot = mm.vm.tables.entry(mm.pgdPfn, vaddr, 1, false);
  mm.vm.u[slot] = (mm.vm.u[slot] as number) & ~PTE_ACCESSED;
}

test('second chance: a page whose accessed bit is set is kept and marked; referenced again it is activated', () => {
  const { kernel, mm } = setup();
  const vm = kernel.vm;
  const a = mm.mmap(0, 8 * P, RW, ANON);
  for (let i = 0; i < 8; i++) mm.write(a + i * P, pattern(i));
  for (let i = 0; i < 8; i++) age(mm, a + i * P);
  for (let i = 0; i < 8; i += 2) mm.readByte(a + i * P); // the CPU's page walk sets the accessed bit
  const r = reclaimPages(vm, 4);
  assert.equal(r.reclaimed, 4);
  assert.equal(r.kept, 4);
  for (let i = 0; i < 8; i++) assert.equal(swapped(mm, a + i * P), i % 2 === 1, `page ${i}`);
  kernel.validate();
  // Used again: referenced twice, so activated (pgactivate); once the inactive list is short
  // (inactive_is_low), shrink_active_list ages them back (pgdeactivate, accessed bits cleared) and
  // one is taken.
  for (let i = 0; i < 8; i += 2) mm.readByte(a + i * P);
  const r2 = reclaimPages(vm, 1);
  assert.equal(r2.activated, 4);
  assert.equal(r2.deactivated, 3);
  assert.equal(r2.reclaimed, 1);
  assert.equal(vm.counter('pgdeactivate'), 3);
  assert.equal(vm.counter('pgactivate'), 4);
  kernel.validate();
  for (let i = 0; i < 8; i++) assert.deepEqual(mm.read(a + i * P, P), pattern(i));
  kernel.validate();
});

test('inactive_is_low: the inactive list should hold 1/int_sqrt(10 × GiB) of the anonymous LRU', () => {
  assert.equal(inactiveIsLow(10, 11), true); // below 1 GiB: ratio 1
  assert.equal(inactiveIsLow(11, 11), false);
  // 4 GiB of pages: ratio int_sqrt(40) = 6.
  const gib = 2 ** 18;
  assert.equal(inactiveIsLow(0.6 * gib, 3.4 * gib), false); // 0.6 × 6 = 3.6 ≥ 3.4
  assert.equal(inactiveIsLow(0.5 * gib, 3.5 * gib), true); // 0.5 × 6 = 3 < 3.5
});

test('mlocked pages, secret memory and VM_LOCKED mappings are never written to swap; their bytes are not in the device', () => {
  const { kernel, mm, backing } = setup(512);
  const vm = kernel.vm;
  const plain = mm.mmap(0, 8 * P, RW, ANON);
  const locked = mm.mmap(0, 4 * P, RW, ANON);
  for (let i = 0; i < 8; i++) mm.write(plain + i * P, pattern(i));
  for (let i = 0; i < 4; i++) mm.write(locked + i * P, pattern(50 + i));
  mlock(mm, locked, 4 * P);
  const key = pattern(777).subarray(0, 64);
  const region = secretAlloc(mm, 64);
  mm.write(region.addr, key);
  const r = reclaimPages(vm, 1000);
  assert.equal(r.reclaimed, 8);
  for (let i = 0; i < 8; i++) assert.ok(swapped(mm, plain + i * P));
  for (let i = 0; i < 4; i++) assert.ok(!swapped(mm, locked + i * P), `mlocked page ${i} stayed`);
  assert.ok(!swapped(mm, region.start));
  assert.equal(swapStats(vm).lru.unevictable, 5);
  const device = backing.snapshot();
  assert.ok(!contains(device, key), 'the secret key is not in the swap device');
  for (let i = 0; i < 4; i++) assert.ok(!contains(device, pattern(50 + i)), `mlocked page ${i} is not in the swap device`);
  for (let i = 0; i < 8; i++) assert.ok(contains(device, pattern(i)), `plain page ${i} is in the swap device (the search can find)`);
  kernel.validate();
  // munlock: the pages become evictable again (check_move_unevictable_folios) and may go.
  munlock(mm, locked, 4 * P);
  reclaimPages(vm, 1000);
  for (let i = 0; i < 4; i++) assert.ok(swapped(mm, locked + i * P), `unlocked page ${i} was swapped`);
  assert.ok(!swapped(mm, region.start), 'the secret is still never swapped');
  kernel.validate();
  for (let i = 0; i < 4; i++) assert.deepEqual(mm.read(locked + i * P, P), pattern(50 + i));
  // mlock of swapped pages brings them back (populate faults them in) and keeps them.
  reclaimPages(vm, 1000);
  mlock(mm, plain, 8 * P);
  for (let i = 0; i < 8; i++) assert.ok(!swapped(mm, plain + i * P));
  reclaimPages(vm, 1000);
  for (let i = 0; i < 8; i++) assert.ok(!swapped(mm, plain + i * P));
  kernel.validate();
});

test('fork shares a swap slot (count 2); each side swaps in its own copy; munmap and exit free the slot', () => {
  const { kernel, mm } = setup();
  const vm = kernel.vm;
  const a = mm.mmap(0, 2 * P, RW, ANON);
  mm.write(a, pattern(1));
  mm.write(a + P, pattern(2));
  reclaimPages(vm, 2);
  assert.ok(swapped(mm, a) && swapped(mm, a + P));
  const child = forkAddressSpace(mm, 'naive');
  const slot = swpOffset(pteLo(mm, a));
  assert.equal(swpOffset(pteLo(child, a)), slot);
  assert.equal(swapMap(vm)[slot], 2);
  assert.equal(child.swapEntries, 2);
  kernel.validate();
  child.writeByte(a, 9);
  assert.equal(swapMap(vm)[slot], 1);
  const want = pattern(1);
  want[0] = 9;
  assert.deepEqual(child.read(a, P), want);
  assert.deepEqual(mm.read(a, P), pattern(1));
  assert.equal(swapMap(vm)[slot], 0);
  kernel.validate();
  // A page shared copy-on-write by parent and child is unmapped from both by one swap-out.
  reclaimPages(vm, 100);
  const shared = swpOffset(pteLo(mm, a + P));
  assert.ok(swapped(child, a + P));
  assert.equal(swapMap(vm)[shared], 2);
  mm.munmap(a + P, P);
  assert.equal(swapMap(vm)[shared], 1);
  kernel.validate();
  child.destroy();
  assert.equal(swapMap(vm)[shared], 0);
  mm.destroy();
  assert.equal(swapStats(vm).usedPages, 0);
  kernel.validate();
});

test('direct reclaim: a process maps more than RAM holds; faults swap older pages out and every byte survives', () => {
  const kernel = Kernel.boot({ ramBytes: '24MiB' });
  const vm = kernel.vm;
  swapon(vm, BufferBacking.create(8192));
  const mm = vm.createAddressSpace();
  const n = Math.ceil((vm.pages.freePagesTotal * 5) / 4);
  const a = mm.mmap(0, n * P, RW, ANON);
  for (let i = 0; i < n; i++) mm.write(a + i * P, new Uint8Array([i & 0xff, (i >> 8) & 0xff, 0xa5]));
  assert.ok(vm.counter('allocstall_movable') > 0, 'direct reclaim ran');
  assert.ok(vm.counter('pswpout') >= n / 5);
  for (let i = 0; i < n; i++) assert.deepEqual([...mm.read(a + i * P, 3)], [i & 0xff, (i >> 8) & 0xff, 0xa5], `page ${i}`);
  kernel.validate();
});

test('the device full: reclaim takes what fits, the rest stays (activated); validate passes', () => {
  const { kernel, mm } = setup(4);
  const vm = kernel.vm;
  const a = mm.mmap(0, 10 * P, RW, ANON);
  for (let i = 0; i < 10; i++) mm.write(a + i * P, pattern(i));
  const r = reclaimPages(vm, 10);
  assert.equal(r.reclaimed, 3);
  assert.ok(r.noSlot > 0);
  kernel.validate();
  for (let i = 0; i < 10; i++) assert.deepEqual(mm.read(a + i * P, P), pattern(i));
  kernel.validate();
});

/** A backing whose writes or reads fail while the flag is set. */
class FlakyBacking implements SwapBacking {
  failWrites = false;
  failReads = false;
  constructor(readonly inner: BufferBacking) {}
  get slots(): number {
    return this.inner.slots;
  }
  writeSlot(slot: number, src: Uint8Array): void {
    if (this.failWrites && slot !== 0) throw new Error('EIO');
    this.inner.writeSlot(slot, src);
  }
  readSlot(slot: number, dst: Uint8Array): void {
    if (this.failReads) throw new Error('EIO');
    this.inner.readSlot(slot, dst);
  }
  snapshot(): Uint8Array {
    return this.inner.snapshot();
  }
}

test('I/O errors are typed; the page or the entry stays as it was and validate passes', () => {
  const kernel = Kernel.boot({ ramBytes: '32MiB' });
  const vm = kernel.vm;
  const backing = new FlakyBacking(BufferBacking.create(64));
  swapon(vm, backing);
  const mm = vm.createAddressSpace();
  const a = mm.mmap(0, 4 * P, RW, ANON);
  for (let i = 0; i < 4; i++) mm.write(a + i * P, pattern(i));
  const child = forkAddressSpace(mm, 'naive');
  backing.failWrites = true;
  assert.throws(() => reclaimPages(vm, 4), (e: unknown) => e instanceof SwapIoError && e.op === 'write');
  kernel.validate();
  for (let i = 0; i < 4; i++) assert.ok(!swapped(mm, a + i * P) && !swapped(child, a + i * P));
  assert.equal(swapStats(vm).usedPages, 0);
  for (let i = 0; i < 4; i++) assert.deepEqual(child.read(a + i * P, P), pattern(i));
  backing.failWrites = false;
  // Four pages, each mapped by parent and child: one swap-out unmaps both entries.
  assert.equal(reclaimPages(vm, 8).reclaimed, 4);
  assert.equal(swapStats(vm).swapEntries, 8);
  backing.failReads = true;
  assert.throws(() => mm.read(a, P), (e: unknown) => e instanceof SwapIoError && e.op === 'read');
  assert.ok(swapped(mm, a), 'the entry is still a swap PTE');
  kernel.validate();
  backing.failReads = false;
  for (let i = 0; i < 4; i++) assert.deepEqual(mm.read(a + i * P, P), pattern(i));
  for (let i = 0; i < 4; i++) assert.deepEqual(child.read(a + i * P, P), pattern(i));
  kernel.validate();
});

test('compaction moves a page on the LRU: its place on the list moves with it', () => {
  const { kernel, mm } = setup();
  const vm = kernel.vm;
  const pages = kernel.pages.freePagesTotal - 600;
  const a = mm.mmap(0x40000000, pages * P, RW, ANON);
  for (let i = 0; i < pages; i++) mm.writeByte(a + i * P, (i * 7) & 0xff);
  for (let i = 0; i < pages; i += 64) mm.munmap(a + (i + 1) * P, Math.min(63, pages - i - 1) * P);
  vm.compact(9);
  assert.ok(vm.counter('pgmigrate_success') > 0, 'compaction migrated pages');
  kernel.validate();
  assert.equal(reclaimPages(vm, 1000).reclaimed, Math.ceil(pages / 64));
  kernel.validate();
  for (let i = 0; i < pages; i += 64) assert.equal(mm.readByte(a + i * P), (i * 7) & 0xff);
  kernel.validate();
});

test('swapon twice is refused; a swap PTE is neither present nor PROT_NONE', () => {
  const { kernel } = setup();
  assert.throws(() => swapon(kernel.vm, BufferBacking.create(8)), /already on/);
  assert.equal(isSwapPte(0), false);
  assert.equal(isSwapPte(1), false);
  assert.equal(isSwapPte(1 << 8), false);
  assert.equal(isSwapPte(5 << 9), true);
  assert.equal(swpOffset(5 << 9), 5);
  kernel.validate();
});

test('swapoff brings every swapped page back (try_to_unuse), then frees the device; swapon works again', () => {
  const { kernel, mm } = setup();
  const vm = kernel.vm;
  const a = mm.mmap(0, 12 * P, RW, ANON);
  for (let i = 0; i < 12; i++) mm.write(a + i * P, pattern(i));
  const child = forkAddressSpace(mm, 'naive');
  child.write(a, pattern(99));
  reclaimPages(vm, 100);
  assert.ok(swapStats(vm).usedPages > 0);
  swapoff(vm);
  assert.equal(swapStats(vm).on, false);
  assert.match(vm.meminfo(), /^SwapTotal:\s+0 kB$/m);
  for (let i = 0; i < 12; i++) assert.ok(!swapped(mm, a + i * P) && !swapped(child, a + i * P));
  assert.equal(mm.swapEntries + child.swapEntries, 0);
  kernel.validate();
  assert.deepEqual(child.read(a, P), pattern(99));
  for (let i = 0; i < 12; i++) assert.deepEqual(mm.read(a + i * P, P), pattern(i));
  assert.equal(reclaimPages(vm, 100).reclaimed, 0, 'no device: nothing is reclaimed');
  assert.throws(() => swapoff(vm), SwapDeviceError);
  swapon(vm, BufferBacking.create(64));
  assert.ok(reclaimPages(vm, 100).reclaimed > 0);
  kernel.validate();
});

test('a swap file: slots are written to and read from a real file with positioned I/O', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kmem-swap-'));
  const path = join(dir, 'swapfile');
  const backing = FileBacking.create(path, 64);
  try {
    const kernel = Kernel.boot({ ramBytes: '32MiB' });
    const vm = kernel.vm;
    swapon(vm, backing);
    const mm = vm.createAddressSpace();
    const a = mm.mmap(0, 8 * P, RW, ANON);
    for (let i = 0; i < 8; i++) mm.write(a + i * P, pattern(i));
    assert.equal(reclaimPages(vm, 8).reclaimed, 8);
    const file = new Uint8Array(readFileSync(path));
    assert.equal(file.length, 64 * P);
    assert.equal(new TextDecoder().decode(file.subarray(P - 10, P)), 'SWAPSPACE2');
    for (let i = 0; i < 8; i++) {
      const slot = swpOffset(pteLo(mm, a + i * P));
      assert.deepEqual(file.subarray(slot * P, (slot + 1) * P), pattern(i));
    }
    for (let i = 0; i < 8; i++) assert.deepEqual(mm.read(a + i * P, P), pattern(i));
    kernel.validate();
  } finally {
    backing.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('hibernation keeps the swap PTEs and the swap_map; after resume the same backing is attached and the pages come back', () => {
  const { kernel, mm, backing } = setup();
  const a = mm.mmap(0, 6 * P, RW, ANON);
  for (let i = 0; i < 6; i++) mm.write(a + i * P, pattern(i));
  assert.equal(reclaimPages(kernel.vm, 3).reclaimed, 3);
  const resumed = resume(hibernate(kernel));
  const vm = resumed.vm;
  const mm2 = vm.addressSpace(mm.pid) as AddressSpace;
  assert.equal(mm2.swapEntries, 3);
  assert.throws(() => mm2.read(a, P), SwapDeviceError, 'no backing attached in this process yet');
  resumed.validate();
  swapAttach(vm, backing);
  for (let i = 0; i < 6; i++) assert.deepEqual(mm2.read(a + i * P, P), pattern(i));
  assert.equal(swapStats(vm).usedPages, 0);
  resumed.validate();
});

test('a slot at the most entries it may count: fork fails with ENOMEM instead of overflowing the count', () => {
  const { kernel, mm } = setup();
  const vm = kernel.vm;
  const a = mm.mmap(0, P, RW, ANON);
  mm.write(a, pattern(1));
  reclaimPages(vm, 1);
  const slot = swpOffset(pteLo(mm, a));
  swapMap(vm)[slot] = SWAP_COUNT_MAX; // as if 65533 other entries shared it
  assert.throws(() => forkAddressSpace(mm, 'naive'), (e: unknown) => e instanceof SyscallError && e.errno === 'ENOMEM');
  assert.equal(swapMap(vm)[slot], SWAP_COUNT_MAX);
  swapMap(vm)[slot] = 1;
  kernel.validate();
  assert.deepEqual(mm.read(a, P), pattern(1));
});

test('a THP is split before it is swapped (split_folio); its 4 KiB pages go out and come back', () => {
  const { kernel, mm } = setup(2048);
  const vm = kernel.vm;
  setThpSettings(vm, { enabled: 'always' });
  const n = 1024; // two 2 MiB pages
  const a = mm.mmap(0, n * P + 2 * 1024 * 1024, RW, ANON);
  const h = Math.ceil(a / (2 * 1024 * 1024)) * 2 * 1024 * 1024;
  for (let i = 0; i < n; i++) mm.write(h + i * P, new Uint8Array([i & 0xff, i >> 8, 0x77]));
  assert.equal(vm.counter('nr_anon_transparent_hugepages'), 2);
  kernel.validate();
  const r = reclaimPages(vm, n);
  assert.equal(r.thpSplit, 2);
  assert.equal(r.reclaimed, n);
  assert.equal(vm.counter('nr_anon_transparent_hugepages'), 0);
  kernel.validate();
  for (let i = 0; i < n; i++) assert.deepEqual([...mm.read(h + i * P, 3)], [i & 0xff, i >> 8, 0x77]);
  kernel.validate();
});

test('a fork child does not inherit VM_LOCKED; once the locking parent is gone its shared pages become evictable again', () => {
  const { kernel, mm } = setup();
  const vm = kernel.vm;
  const a = mm.mmap(0, 4 * P, RW, ANON);
  for (let i = 0; i < 4; i++) mm.write(a + i * P, pattern(300 + i));
  mlock(mm, a, 4 * P);
  const child = forkAddressSpace(mm, 'naive');
  assert.equal(vm.vmas.flags(child.vmaContaining(a)) & VM.LOCKED, 0, 'dup_mmap clears VM_LOCKED');
  assert.equal(vm.vmas.flags(mm.vmaContaining(a)) & VM.LOCKED, VM.LOCKED);
  reclaimPages(vm, 1000);
  for (let i = 0; i < 4; i++) assert.ok(!swapped(mm, a + i * P) && !swapped(child, a + i * P), `page ${i} is shared with a locked mapping: kept`);
  // The child may drop its unlocked copy of the mapping (EINVAL only on VM_LOCKED).
  child.madvise(a + 3 * P, P, MADV.DONTNEED);
  kernel.validate();
  mm.destroy();
  assert.equal(vm.counter('unevictable_pgs_munlocked'), 0);
  reclaimPages(vm, 1000);
  assert.equal(vm.counter('unevictable_pgs_munlocked'), 3, 'the three pages only the child maps lost Mlocked');
  for (let i = 0; i < 3; i++) assert.ok(swapped(child, a + i * P), `page ${i} went to swap`);
  assert.match(vm.vmstat(), /^unevictable_pgs_munlocked 3$/m);
  kernel.validate();
  for (let i = 0; i < 3; i++) assert.deepEqual(child.read(a + i * P, P), pattern(300 + i));
  kernel.validate();
});

test('/proc/meminfo counts anonymous pages on the LRU lists in pages (a THP as 512), before the first swapon too (the lists\' rule: mapped pages, new ones inactive, tagged ones unevictable)', () => {
  const kernel = Kernel.boot({ ramBytes: '64MiB' });
  const vm = kernel.vm;
  const mm = vm.createAddressSpace();
  const line = (name: string): number => Number(new RegExp(`^${name.replace(/[()]/g, '\\$&')}:\\s+(\\d+) kB$`, 'm').exec(vm.meminfo())?.[1]);
  const check = (inactiveKb: number, unevictableKb: number, when: string): void => {
    assert.deepEqual([line('Inactive(anon)'), line('Active(anon)'), line('Unevictable')], [inactiveKb, 0, unevictableKb], when);
    assert.equal(line('Inactive(anon)') + line('Unevictable'), line('AnonPages'), `${when}: every anonymous page is on a list`);
  };
  check(0, 0, 'nothing mapped');
  const small = mm.mmap(0x1000_0000, 10 * 4096, PROT.READ | PROT.WRITE, MAP.PRIVATE | MAP.ANONYMOUS);
  for (let i = 0; i < 10; i++) mm.writeByte(small + i * 4096, 1);
  const huge = mm.mmap(0x4000_0000, 2 << 20, PROT.READ | PROT.WRITE, MAP.PRIVATE | MAP.ANONYMOUS);
  mm.writeByte(huge, 1);
  assert.equal(vm.counter('thp_fault_alloc'), 1);
  check(40 + 2048, 0, 'ten 4 KiB pages and a THP, before any swapon');
  mlock(mm, small, 2 * 4096);
  check(32 + 2048, 8, 'two of them mlocked');
  swapon(vm, BufferBacking.create(8192));
  check(32 + 2048, 8, 'the same after swapon, from the lists themselves');
  kernel.validate();
});
