import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Kernel } from '../../../src/mm/kernel.ts';
import { GFP } from '../../../src/mm/gfp.ts';
import { kmallocClassBytes, kmallocIndex } from '../../../src/mm/slab/kmalloc.ts';
import { InteriorPointerError, InvalidFreeError, InvalidPointerError, SlabDoubleFreeError } from '../../../src/mm/slab/errors.ts';
import { ZERO_SIZE_PTR } from '../../../src/mm/slab/types.ts';
import { ArgumentError } from '../../../src/util/errors.ts';

function boot(): Kernel {
  return Kernel.boot({ ramBytes: '32MiB' });
}

function cacheNameOf(kernel: Kernel, addr: number): string {
  const owner = kernel.memMap.owner[addr >>> 12] as number;
  return kernel.slab.caches().find((c) => c.tag === owner)?.name ?? '(none)';
}

test('size classes follow kmalloc_size_index[] and fls(size - 1)', () => {
  const expected: [number, string][] = [
    [1, 'kmalloc-8'], [8, 'kmalloc-8'], [9, 'kmalloc-16'], [24, 'kmalloc-32'], [33, 'kmalloc-64'], [64, 'kmalloc-64'],
    [65, 'kmalloc-96'], [96, 'kmalloc-96'], [97, 'kmalloc-128'], [129, 'kmalloc-192'], [192, 'kmalloc-192'],
    [193, 'kmalloc-256'], [257, 'kmalloc-512'], [1000, 'kmalloc-1k'], [2048, 'kmalloc-2k'], [4097, 'kmalloc-8k'], [8192, 'kmalloc-8k'],
  ];
  const kernel = boot();
  for (const [size, name] of expected) {
    const addr = kernel.kmalloc(size) as number;
    assert.equal(cacheNameOf(kernel, addr), name, `kmalloc(${size})`);
    kernel.kfree(addr);
  }
  assert.equal(kmallocIndex(8192), 13);
  kernel.validate();
});

test('ksize: the whole slot, or 4 KiB << order past 8 KiB; kmalloc(0) is ZERO_SIZE_PTR', () => {
  const kernel = boot();
  const cases: [number, number][] = [[100, 128], [65, 96], [1, 8], [8192, 8192], [8193, 16384], [10000, 16384], [32768, 32768]];
  for (const [size, ksize] of cases) {
    const addr = kernel.kmalloc(size) as number;
    assert.equal(kernel.ksize(addr), ksize, `ksize(kmalloc(${size}))`);
    kernel.kfree(addr);
  }
  assert.equal(kernel.kmalloc(0), ZERO_SIZE_PTR);
  assert.equal(kernel.ksize(ZERO_SIZE_PTR), 0);
  kernel.kfree(ZERO_SIZE_PTR);
  kernel.kfree(0);
  assert.throws(() => kernel.kmalloc(-1), ArgumentError);
  assert.throws(() => kernel.kmalloc(5 << 20), /KMALLOC_MAX_SIZE/);
  kernel.validate();
});

test('large kmalloc is a compound page; frees of its inside are interior-pointer errors', () => {
  const kernel = boot();
  const addr = kernel.kmalloc(20000) as number;
  assert.equal(addr % 4096, 0);
  const pfn = addr / 4096;
  assert.equal(kernel.memMap.order[pfn], 3);
  assert.throws(() => kernel.kfree(addr + 4096), InteriorPointerError);
  assert.throws(() => kernel.kfree(addr + 8), InteriorPointerError);
  kernel.validate();
  kernel.kfree(addr);
  assert.throws(() => kernel.kfree(addr), InvalidFreeError);
  kernel.validate();
});

test('krealloc keeps the address while the new size fits, else moves the bytes', () => {
  const kernel = boot();
  const a = kernel.kmalloc(40) as number;
  kernel.ram.bytes.set([1, 2, 3, 4], a);
  assert.equal(kernel.krealloc(a, 64), a, '64 still fits kmalloc-64');
  const b = kernel.krealloc(a, 500) as number;
  assert.notEqual(b, a);
  assert.deepEqual([...kernel.ram.bytes.subarray(b, b + 4)], [1, 2, 3, 4]);
  assert.throws(() => kernel.kfree(a), SlabDoubleFreeError, 'the old object was freed');
  const c = kernel.krealloc(b, 20000) as number;
  assert.deepEqual([...kernel.ram.bytes.subarray(c, c + 4)], [1, 2, 3, 4]);
  assert.equal(kernel.krealloc(c, 0), ZERO_SIZE_PTR);
  const d = kernel.krealloc(0, 10) as number;
  assert.equal(kernel.ksize(d), 16);
  kernel.kfree(d);
  kernel.validate();
});

test('kzalloc zeroes; kfreeSensitive zeroes the whole ksize() area before freeing', () => {
  const kernel = boot();
  const a = kernel.kmalloc(100) as number;
  kernel.ram.bytes.fill(0xee, a, a + 128);
  kernel.kfree(a);
  const z = kernel.kzalloc(100) as number;
  assert.equal(z, a);
  assert.ok(kernel.ram.bytes.subarray(z, z + 128).every((b) => b === 0));
  kernel.ram.bytes.fill(0x5e, z, z + 128);
  kernel.kfreeSensitive(z);
  const bytes = kernel.ram.bytes.subarray(z, z + 128);
  // Only the free word (link + marker) is written after the wipe.
  assert.ok(bytes.filter((b) => b === 0x5e).length === 0, 'no byte of the secret survives');
  kernel.validate();
});

test('GFP.DMA and GFP.RECLAIMABLE use dma-kmalloc and kmalloc-rcl caches', () => {
  const kernel = boot();
  const dma = kernel.kmalloc(100, GFP.DMA) as number;
  assert.equal(cacheNameOf(kernel, dma), 'dma-kmalloc-128');
  assert.ok(dma < 16 << 20);
  const rcl = kernel.kmalloc(100, GFP.RECLAIMABLE) as number;
  assert.equal(cacheNameOf(kernel, rcl), 'kmalloc-rcl-128');
  kernel.kfree(dma);
  kernel.kfree(rcl);
  kernel.validate();
});

test('ksize of a freed or foreign pointer is an error', () => {
  const kernel = boot();
  const a = kernel.kmalloc(30) as number;
  kernel.kfree(a);
  assert.throws(() => kernel.ksize(a), (e: unknown) => e instanceof InvalidPointerError && /is free/.test(e.message));
  assert.throws(() => kernel.ksize(4096 * 3), InvalidPointerError);
  kernel.validate();
});

test('kmallocClassBytes(size) is the ksize() of a kmalloc(size), for every size 1 … 8192', () => {
  const kernel = boot();
  for (let size = 1; size <= 8192; size++) {
    const addr = kernel.kmalloc(size);
    assert.equal(kmallocClassBytes(size), kernel.ksize(addr), `size ${size}`);
    kernel.kfree(addr);
  }
});
