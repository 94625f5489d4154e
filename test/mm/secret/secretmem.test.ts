// memfd_secret-style regions: out of the direct map, guarded, tagged, wiped on free.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Cpu } from '../../../src/machine/cpu.ts';
import { skylake } from '../../../src/machine/tlb-presets.ts';
import { Kernel } from '../../../src/mm/kernel.ts';
import { PageFlag } from '../../../src/mm/types.ts';
import { bindCpu } from '../../../src/mm/vm/cpu-binding.ts';
import { SegvError, SyscallError } from '../../../src/mm/vm/errors.ts';
import { forkAddressSpace } from '../../../src/mm/vm/fork.ts';
import { getUserPages, pinUserPages } from '../../../src/mm/vm/pin.ts';
import { DIRECT_MAP_BASE, MADV, VM } from '../../../src/mm/vm/types.ts';
import { SecretAccessError, SecretRegionError } from '../../../src/mm/secret/errors.ts';
import { isSensitivePage, secretAlloc, secretFree } from '../../../src/mm/secret/secretmem.ts';
import { directMapPresent } from '../../../src/mm/secret/direct-map.ts';
import { userPfn } from '../../../src/mm/secret/tags.ts';
import { SECRET_PAGE_TAGS } from '../../../src/mm/secret/types.ts';
import { secretStats } from '../../../src/mm/secret/validate.ts';
import { Prng } from '../../../src/util/prng.ts';

const P = 4096;

function pfnsOf(mm: ReturnType<Kernel['vm']['createAddressSpace']>, start: number, nrPages: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < nrPages; i++) out.push(userPfn(mm, start + i * P));
  return out;
}

test('a secret region: owner reads and writes it; every page tagged, locked, out of the direct map', () => {
  const kernel = Kernel.boot({ ramBytes: '32MiB' });
  const vm = kernel.vm;
  const mm = vm.createAddressSpace();
  const key = new Uint8Array(3 * P + 100).map((_, i) => (i * 7 + 1) & 0xff);
  const region = secretAlloc(mm, key.length);
  assert.equal(region.nrPages, 4);
  assert.equal(region.addr + key.length, region.start + 4 * P, 'right-aligned against the trailing guard page');
  mm.write(region.addr, key);
  assert.deepEqual(mm.read(region.addr, key.length), key);
  const vma = mm.vmaContaining(region.start);
  assert.equal(vm.vmas.flags(vma) & (VM.LOCKED | VM.DONTDUMP | VM.NOHUGEPAGE), VM.LOCKED | VM.DONTDUMP | VM.NOHUGEPAGE);
  for (const pfn of pfnsOf(mm, region.start, region.nrPages)) {
    assert.ok(pfn >= 0);
    assert.equal((vm.memMap.flags[pfn] as number) & SECRET_PAGE_TAGS, SECRET_PAGE_TAGS);
    assert.ok(isSensitivePage(vm, pfn));
    assert.equal(directMapPresent(vm, pfn), false);
  }
  assert.deepEqual(secretStats(vm), { sensitivePages: 4, directMapHoles: 4, directMapSplits: secretStats(vm).directMapSplits });
  assert.ok(secretStats(vm).directMapSplits >= 1);
  assert.throws(() => mm.madvise(region.start, P, MADV.DONTNEED), (e: unknown) => e instanceof SyscallError && e.errno === 'EINVAL', 'locked: DONTNEED refused');
  kernel.validate();
});

test('every kernel access to a secret frame through the direct map faults with SecretAccessError naming the address', () => {
  const kernel = Kernel.boot({ ramBytes: '32MiB' });
  const vm = kernel.vm;
  const mm = vm.createAddressSpace();
  const cpu = new Cpu(kernel.ram, { preset: skylake() });
  const binding = bindCpu(vm, cpu);
  binding.switchTo(mm);
  const region = secretAlloc(mm, 2 * P);
  const pfns = pfnsOf(mm, region.start, region.nrPages);
  cpu.store8(region.addr, 0x5a);
  assert.equal(cpu.load8(region.addr), 0x5a, 'the owner, in user mode, through its own mapping');
  cpu.setUser(false);
  const prng = new Prng(12);
  for (const pfn of pfns) {
    for (let k = 0; k < 16; k++) {
      const offset = k === 0 ? 0 : k === 1 ? P - 1 : prng.int(P);
      const vaddr = DIRECT_MAP_BASE + pfn * P + offset;
      const named = (e: unknown): boolean => e instanceof SecretAccessError && e.vaddr === vaddr && e.pfn === pfn && e.message.includes(vaddr.toString(16));
      assert.throws(() => cpu.load8(vaddr), named);
      assert.throws(() => cpu.store8(vaddr, 1), named);
      assert.throws(() => vm.kernelRead(vaddr, 1), named);
      assert.throws(() => vm.kernelWrite(vaddr, new Uint8Array(1)), named);
      kernel.validate();
    }
  }
  // The frame next to a secret one stays reachable (the split keeps every other entry).
  const other = vm.pages.allocPages(0, 0);
  assert.ok(other !== null);
  cpu.store8(DIRECT_MAP_BASE + other * P, 9);
  assert.equal(vm.kernelRead(DIRECT_MAP_BASE + other * P, 1)[0], 9);
  vm.pages.freePages(other, 0);
  cpu.setUser(true);
  assert.equal(cpu.load8(region.addr), 0x5a, 'still the owner\'s');
  secretFree(mm, region.addr);
  cpu.setUser(false);
  for (const pfn of pfns) cpu.load8(DIRECT_MAP_BASE + pfn * P);
  kernel.validate();
});

test('every overflow of 1…4096 bytes past a secret object faults in the guard page; underflow past the first page too', () => {
  const kernel = Kernel.boot({ ramBytes: '32MiB' });
  const vm = kernel.vm;
  const mm = vm.createAddressSpace();
  const cpu = new Cpu(kernel.ram, { preset: skylake() });
  bindCpu(vm, cpu).switchTo(mm);
  const prng = new Prng(7);
  const lengths = [1, 2, 3, 7, 8, 15, 16, 63, 64, 511, 512, 1000, 2048, 4095, 4096];
  for (let i = 0; i < 40; i++) lengths.push(1 + prng.int(4096));
  for (const [i, overflow] of lengths.entries()) {
    const size = 1 + ((i * 977) % (3 * P));
    const region = secretAlloc(mm, size);
    const bytes = new Uint8Array(size + overflow).fill(0xee);
    let faultAt = -1;
    try {
      for (let b = 0; b < bytes.length; b++) cpu.store8(region.addr + b, bytes[b] as number);
    } catch (e) {
      assert.ok(e instanceof SegvError, `overflow ${overflow} of a ${size}-byte secret: ${String(e)}`);
      faultAt = e.vaddr;
    }
    assert.equal(faultAt, region.addr + size, `overflow of ${overflow} past ${size} bytes: caught at its first byte`);
    assert.throws(() => cpu.load8(region.start - 1), SegvError, 'the leading guard page');
    kernel.validate();
    secretFree(mm, region.addr);
  }
  kernel.validate();
});

test('after secretFree the frames hold zeros, are back in the direct map, and carry no tag', () => {
  const kernel = Kernel.boot({ ramBytes: '32MiB' });
  const vm = kernel.vm;
  const mm = vm.createAddressSpace();
  const region = secretAlloc(mm, 5 * P);
  mm.write(region.start, new Uint8Array(5 * P).fill(0xa5));
  const pfns = pfnsOf(mm, region.start, region.nrPages);
  secretFree(mm, region.start + 3 * P + 5);
  for (const pfn of pfns) {
    assert.ok(kernel.ram.bytes.subarray(pfn * P, (pfn + 1) * P).every((b) => b === 0), `pfn ${pfn} wiped`);
    assert.ok(directMapPresent(vm, pfn));
    assert.equal((vm.memMap.flags[pfn] as number) & (PageFlag.Sensitive | PageFlag.NoSave | PageFlag.NoDump | PageFlag.Mlocked), 0);
  }
  assert.throws(() => secretFree(mm, region.addr), SecretRegionError);
  assert.throws(() => mm.read(region.addr, 1), SegvError, 'unmapped, guard pages included');
  kernel.validate();
});

test('an exiting owner wipes its secrets too (munmap of the whole address space)', () => {
  const kernel = Kernel.boot({ ramBytes: '32MiB' });
  const vm = kernel.vm;
  const mm = vm.createAddressSpace();
  const region = secretAlloc(mm, 2 * P);
  mm.write(region.start, new Uint8Array(2 * P).fill(0x3c));
  const pfns = pfnsOf(mm, region.start, region.nrPages);
  mm.destroy();
  for (const pfn of pfns) {
    assert.ok(kernel.ram.bytes.subarray(pfn * P, (pfn + 1) * P).every((b) => b === 0));
    assert.ok(directMapPresent(vm, pfn));
  }
  kernel.validate();
});

test('secretAlloc out of memory is ENOMEM with nothing left behind', () => {
  const kernel = Kernel.boot({ ramBytes: '8MiB' });
  const vm = kernel.vm;
  const mm = vm.createAddressSpace();
  const before = vm.pages.freePagesTotal;
  assert.throws(() => secretAlloc(mm, 16 * 1024 * 1024), (e: unknown) => e instanceof SyscallError && e.errno === 'ENOMEM');
  assert.equal(mm.mapCount, 0);
  assert.equal(secretStats(vm).sensitivePages, 0);
  assert.equal(vm.counter('nr_anon_pages'), 0, 'every populated page freed');
  vm.pages.drainPages();
  assert.ok(vm.pages.freePagesTotal >= before - 16, `only slab pages (the VMA and rmap caches keep theirs) or a split table may stay: ${before} free before, ${vm.pages.freePagesTotal} after`);
  kernel.validate();
});

test('fork leaves secret memory out of the child (no copy-on-write copy of the key anywhere); GUP refuses it with EFAULT', () => {
  const kernel = Kernel.boot({ ramBytes: '32MiB' });
  const vm = kernel.vm;
  const mm = vm.createAddressSpace();
  const key = new Uint8Array(64).map((_, i) => (0xa0 + i * 13) & 0xff);
  const region = secretAlloc(mm, key.length);
  mm.write(region.addr, key);
  const child = forkAddressSpace(mm, 'naive');
  assert.equal(vm.vmas.flags(mm.vmaContaining(region.start)) & VM.DONTCOPY, VM.DONTCOPY);
  assert.equal(child.vmaContaining(region.start), 0, 'the child has no mapping of the secret pages');
  assert.throws(() => child.writeByte(region.addr, 1), SegvError);
  assert.throws(() => child.readByte(region.addr), SegvError);
  kernel.validate();
  // The key's bytes are in exactly one frame of RAM: the owner's Sensitive page.
  const ram = kernel.ram.bytes;
  const holders: number[] = [];
  for (let p = 0; p + key.length <= ram.length; p += 8) {
    if (ram[p] !== key[0] || ram[p + 1] !== key[1]) continue;
    if (key.every((b, i) => ram[p + i] === b)) holders.push(Math.floor(p / P));
  }
  assert.deepEqual(holders, [userPfn(mm, region.start)]);
  for (const pin of [() => pinUserPages(mm, region.start, 1, false), () => getUserPages(mm, region.start, 1, true)]) {
    assert.throws(pin, (e: unknown) => e instanceof SyscallError && e.errno === 'EFAULT' && /secret memory/.test(e.message));
  }
  assert.equal(vm.memMap.refcount[userPfn(mm, region.start)], 1, 'no reference taken');
  assert.deepEqual(mm.read(region.addr, key.length), key);
  kernel.validate();
  child.destroy();
  secretFree(mm, region.addr);
  kernel.validate();
});
