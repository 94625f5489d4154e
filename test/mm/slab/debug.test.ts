import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Kernel } from '../../../src/mm/kernel.ts';
import { SlabFlag } from '../../../src/mm/slab/layout.ts';
import { RedZoneError, UseAfterFreeError } from '../../../src/mm/slab/errors.ts';
import { Poison } from '../../../src/mm/slab/types.ts';

function boot(): Kernel {
  return Kernel.boot({ ramBytes: '16MiB' });
}

test('a write past the end of an object is caught by its red zone on free', () => {
  const kernel = boot();
  const cache = kernel.createCache('rz', 60, { flags: SlabFlag.RED_ZONE });
  const addr = cache.alloc() as number;
  assert.equal(kernel.ram.bytes[addr + 60], Poison.RED_ACTIVE);
  assert.equal(kernel.ram.bytes[addr - 1], Poison.RED_ACTIVE);
  kernel.ram.bytes[addr + 61] = 0x00; // one byte past the end (in the right red zone)
  // The message names the object's address, the cache, where, and what was expected there.
  assert.throws(() => cache.free(addr), (e: unknown) => e instanceof RedZoneError && e.offset === 61 && e.found === 0 && e.message === `red zone of 0x${addr.toString(16)} in rz overwritten at offset 61: byte 0x0, expected 0x${Poison.RED_ACTIVE.toString(16)}`);
  kernel.validate();
  cache.free(addr);
  assert.equal(kernel.ram.bytes[addr + 60], Poison.RED_INACTIVE);
  kernel.validate();
});

test('a write before the start of an object is caught by the left red zone', () => {
  const kernel = boot();
  const cache = kernel.createCache('rzl', 32, { flags: SlabFlag.RED_ZONE });
  const addr = cache.alloc() as number;
  kernel.ram.bytes[addr - 3] = 0x77;
  assert.throws(() => cache.free(addr), (e: unknown) => e instanceof RedZoneError && e.offset === -3);
  cache.free(addr);
  kernel.validate();
});

test('a write to a freed object is caught by its poison when it is next allocated', () => {
  const kernel = boot();
  const cache = kernel.createCache('poisoned', 64, { flags: SlabFlag.POISON });
  const addr = cache.alloc() as number;
  cache.free(addr);
  assert.equal(kernel.ram.bytes[addr], Poison.FREE);
  assert.equal(kernel.ram.bytes[addr + 63], Poison.END);
  kernel.ram.bytes[addr + 10] = 0x00; // use after free
  assert.throws(() => kernel.validate(), (e: unknown) => e instanceof UseAfterFreeError && e.offset === 10);
  kernel.ram.bytes[addr + 10] = 0x00;
  assert.throws(() => cache.alloc(), (e: unknown) => e instanceof UseAfterFreeError && e.offset === 10 && e.addr === addr && e.message === `use after free: 0x${addr.toString(16)} in poisoned was written at offset 10 while free: byte 0x0, expected poison 0x${Poison.FREE.toString(16)}`);
  kernel.validate();
  assert.equal(cache.alloc(), addr, 'the object was restored and stays usable');
});

test('init_on_alloc and init_on_free zero objects; slab_debug applies to kmalloc caches', () => {
  const kernel = Kernel.boot({ ramBytes: '16MiB', slab: { initOnAlloc: true, initOnFree: true, debugFlags: SlabFlag.RED_ZONE } });
  const addr = kernel.kmalloc(40) as number;
  assert.ok(kernel.ram.bytes.subarray(addr, addr + 40).every((b) => b === 0));
  kernel.ram.bytes.fill(0x99, addr, addr + 40);
  kernel.kfree(addr);
  // init_on_free zeroed it (kmalloc-64's object is 64 bytes; its red zone starts at +64).
  const after = kernel.ram.bytes.subarray(addr, addr + 40);
  assert.ok(after.filter((b) => b === 0x99).length === 0);
  assert.equal(kernel.ram.bytes[addr + 64], Poison.RED_INACTIVE, 'kmalloc caches are red-zoned too');
  kernel.validate();
});

test('a red-zoned cache whose slots fill the slab exactly validates: its objects start one left red zone into their slots', () => {
  // 96 bytes with red zones and poisoning: 128-byte slots, 32 of them in a 4 KiB slab. validate()
  // measured the objects from the first object, not from the first slot, and refused it.
  const kernel = boot();
  const cache = kernel.createCache('exact', 96, { flags: SlabFlag.RED_ZONE | SlabFlag.POISON });
  assert.equal(cache.size * cache.objs, 4096 << cache.order);
  const all = Array.from({ length: cache.objs * 2 }, () => cache.alloc() as number);
  kernel.validate();
  for (const addr of all) cache.free(addr);
  kernel.validate();
});
