import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { STATE_RAM_BYTES_PER_BYTE } from '../../src/mm/slab/alloc-state.ts';
import { Kernel } from '../../src/mm/kernel.ts';
import { ArenaFormatError, ArenaHeader } from '../../src/mm/arena-header.ts';
import { Memblock, MemblockError } from '../../src/mm/memblock.ts';
import { Ram } from '../../src/machine/ram.ts';
import { MEM_MAP_BYTES_PER_PAGE } from '../../src/mm/mem-map.ts';
import { GFP } from '../../src/mm/gfp.ts';
import { ZoneId } from '../../src/mm/types.ts';
import { ArgumentError } from '../../src/util/errors.ts';

function digest(buffer: ArrayBufferLike): string {
  return createHash('sha256').update(new Uint8Array(buffer)).digest('hex');
}

test('boot lays out zones DMA (first 16 MiB) and Normal, metadata at the top of RAM', () => {
  const kernel = Kernel.boot({ ramBytes: '64MiB' });
  kernel.validate();
  const [dma, normal] = kernel.pages.zones;
  assert.ok(dma !== undefined && normal !== undefined);
  assert.equal(dma.name, 'DMA');
  assert.equal(dma.startPfn, 0);
  assert.equal(dma.spannedPages, 4096);
  assert.equal(normal.startPfn, 4096);
  assert.equal(normal.endPfn, 16384);
  // pfn 0 holds the boot header; everything else in DMA is free.
  assert.equal(dma.managedPages, 4095);
  assert.equal(dma.freePages, 4095);
  const stats = kernel.stats();
  for (const region of stats.regions) assert.ok(region.paddr >= 16 << 20, `${region.name} should sit above the DMA zone`);
  // 41 bytes of struct page per 4 KiB page (1.0%), the slab allocation-state bitmap (1/64 of RAM,
  // alloc-state.ts), plus the zone and slab tables and the zone and slab locks' statistics (4 pages
  // of 'slab.lockstat' for 128 cache slots): about 2.7% of RAM.
  const floor = MEM_MAP_BYTES_PER_PAGE / 4096 + 1 / STATE_RAM_BYTES_PER_BYTE;
  assert.ok(stats.metadataFraction > floor && stats.metadataFraction < floor + 0.0018, String(stats.metadataFraction));
  assert.equal(stats.pages.freePages + stats.metadataBytes / 4096, 16384);
});

test('a small machine has only the DMA zone', () => {
  const kernel = Kernel.boot({ ramBytes: '8MiB' });
  assert.equal(kernel.pages.zones.length, 1);
  kernel.validate();
  const pfn = kernel.pages.allocPages(0, GFP.KERNEL);
  assert.ok(pfn !== null && kernel.pages.zoneOf(pfn).id === ZoneId.DMA);
});

test('boot options are checked', () => {
  assert.throws(() => Kernel.boot({ ramBytes: '64MiB', cpus: 0 }), ArgumentError);
  assert.throws(() => Kernel.boot({ ramBytes: '64MiB', pageLimit: -1 }), ArgumentError);
});

test('attach rebuilds the wrappers over the same bytes without changing one', () => {
  const kernel = Kernel.boot({ ramBytes: '32MiB', shared: true });
  const a = kernel.pages.allocPages(3, GFP.KERNEL);
  assert.ok(a !== null);
  const before = digest(kernel.buffer);
  const other = Kernel.attach(kernel.buffer);
  assert.equal(digest(kernel.buffer), before);
  assert.deepEqual(other.stats(), kernel.stats());
  other.validate();
  // The attached kernel is the same kernel: it can free what the first allocated.
  other.pages.freePages(a, 3);
  kernel.validate();
  assert.equal(kernel.pages.freePagesTotal, other.pages.freePagesTotal);
});

test('attach refuses a buffer that is not a booted arena', () => {
  assert.throws(() => Kernel.attach(new ArrayBuffer(4 << 20)), ArenaFormatError);
  const kernel = Kernel.boot({ ramBytes: '8MiB' });
  const copy = kernel.buffer.slice(0) as ArrayBuffer;
  new Int32Array(copy)[1] = 99; // layout version
  assert.throws(() => Kernel.attach(copy), /layout version 99/);
});

test('memblock refuses a reservation RAM cannot hold', () => {
  const ram = Ram.create({ sizeBytes: '1MiB' });
  const memblock = new Memblock(ram, ArenaHeader.format(ram, 0, 1, 0));
  const paddr = memblock.alloc('small', 5000);
  assert.equal(paddr, (1 << 20) - 8192);
  assert.equal(memblock.firstReservedPfn, 254);
  assert.throws(() => memblock.alloc('huge', 1 << 20), MemblockError);
  assert.throws(() => memblock.alloc('small', 10), /already reserved/);
});

test('a 4 GiB machine boots (the largest RAM a typed array views whole) and allocates from its top', () => {
  const kernel = Kernel.boot({ ramBytes: '4GiB' });
  assert.equal(kernel.pages.nrPages, 1 << 20);
  const cache = kernel.createCache('high', 64);
  const obj = cache.alloc() as number;
  assert.ok(obj > 2 ** 31, `0x${obj.toString(16)}`);
  const big = kernel.kmalloc(1 << 20) as number;
  kernel.kfree(big);
  cache.free(obj);
  kernel.validate();
  assert.throws(() => Kernel.boot({ ramBytes: 2 ** 32 + 4096 }), /expected at most 4 GiB/);
});
