import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemType } from '../../../src/machine/cache.ts';
import { DmaArgumentError, DmaMismatchError } from '../../../src/mm/dma/errors.ts';
import { DmaPool } from '../../../src/mm/dma/pool.ts';
import { Prng } from '../../../src/util/prng.ts';
import { dmaRig } from './helpers.ts';

test('dmaPool: blocks are aligned, never cross the boundary, and are coherent memory of the device', () => {
  const { dma, nonCoherent: dev, kernel } = dmaRig();
  const pool = DmaPool.create(dma, 'desc', dev, 24, { align: 16, boundary: 64 });
  // 24 rounded to 32; two blocks per 64-byte boundary window.
  assert.equal(pool.stats().blockBytes, 32);
  assert.equal(pool.blocksPerPage, 128);
  const odd = DmaPool.create(dma, 'odd', dev, 48, { align: 16, boundary: 128 });
  assert.equal(odd.blocksPerPage, 64, '48-byte blocks, two per 128-byte window (the third would cross)');
  const blocks = Array.from({ length: 300 }, () => odd.alloc());
  for (const b of blocks) {
    assert.equal(b.cpuAddr % 16, 0);
    assert.equal(Math.floor(b.cpuAddr / 128), Math.floor((b.cpuAddr + 47) / 128));
    assert.equal(b.dmaHandle, b.cpuAddr);
    assert.equal(b.memType, MemType.Uncached, 'a non-coherent device: the CPU maps pool memory uncached');
  }
  assert.equal(new Set(blocks.map((b) => b.cpuAddr)).size, 300);
  assert.equal(odd.stats().pages, 5);
  odd.validate();
  const pageCache = kernel.slab.caches().find((c) => c.name === 'dma_page');
  assert.ok(pageCache !== undefined, 'page descriptors come from the dma_page slab cache');
  for (const b of blocks) odd.free(b.cpuAddr, b.dmaHandle);
  odd.validate();
  odd.destroy();
  pool.destroy();
  dma.validate();
  kernel.validate();
});

test('dmaPool: the rules of dma_pool_create are typed errors', () => {
  const { dma, coherent: dev } = dmaRig();
  assert.throws(() => DmaPool.create(dma, 'a', dev, 32, { align: 12 }), DmaArgumentError);
  assert.throws(() => DmaPool.create(dma, 'b', dev, 0), DmaArgumentError);
  assert.throws(() => DmaPool.create(dma, 'c', dev, 64, { boundary: 32 }), DmaArgumentError);
  assert.throws(() => DmaPool.create(dma, 'd', dev, 64, { boundary: 96 }), DmaArgumentError);
  const big = DmaPool.create(dma, 'e', dev, 6000);
  assert.deepEqual([big.stats().allocationBytes, big.blocksPerPage], [6000, 1], 'a block over a page takes an allocation of its own size');
});

test('dmaPool: a double free, a foreign address or a mid-block address is refused; destroy with blocks in use too', () => {
  const { dma, coherent: dev, kernel } = dmaRig();
  const pool = DmaPool.create(dma, 'p', dev, 64);
  const a = pool.alloc();
  const b = pool.alloc();
  pool.free(a.cpuAddr, a.dmaHandle);
  assert.throws(() => pool.free(a.cpuAddr, a.dmaHandle), /double free/);
  assert.throws(() => pool.free(b.cpuAddr + 8, b.dmaHandle + 8), /not the start of a block/);
  assert.throws(() => pool.free(b.cpuAddr, b.dmaHandle + 64), DmaMismatchError);
  assert.throws(() => pool.free(1 << 20, 1 << 20), /none of its pages/);
  assert.throws(() => pool.destroy(), /in use/);
  pool.validate();
  pool.free(b.cpuAddr, b.dmaHandle);
  pool.destroy();
  kernel.validate();
});

test('dmaPool: random alloc/free against a shadow set; pages go back to the buddy on destroy', () => {
  const { dma, coherent: dev, kernel } = dmaRig();
  const before = kernel.pages.freePagesTotal;
  const pool = DmaPool.create(dma, 'r', dev, 40, { align: 8, boundary: 1024 });
  const prng = new Prng(5);
  const live = new Map<number, number>();
  for (let i = 0; i < 5000; i++) {
    if (live.size === 0 || prng.chance(0.55)) {
      const b = pool.alloc();
      assert.ok(!live.has(b.cpuAddr));
      live.set(b.cpuAddr, b.dmaHandle);
    } else {
      const addr = prng.pick([...live.keys()]);
      pool.free(addr, live.get(addr) as number);
      live.delete(addr);
    }
    if (i % 500 === 0) pool.validate();
  }
  assert.equal(pool.stats().blocksInUse, live.size);
  for (const [addr, handle] of live) pool.free(addr, handle);
  pool.destroy();
  kernel.slab.shrink(); // the dma_page cache's empty slabs
  assert.equal(kernel.pages.freePagesTotal, before);
});

test('dmaPool validate(): a block lost from a page\'s free list is found', () => {
  const { dma, coherent: dev, memory } = dmaRig();
  const pool = DmaPool.create(dma, 'v', dev, 64);
  const a = pool.alloc();
  pool.validate();
  // The next free block's link (cached: the pool writes it through the CPU) now ends the list early.
  memory.cpu(0).store(a.cpuAddr + 64, 4, -1);
  assert.throws(() => pool.validate(), /in use \+ .* free ≠/);
});
