import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SlabFlag, calculateAlignment, calculateLayout, calculateOrder, fls, getOrder } from '../../../src/mm/slab/layout.ts';

test('fls and get_order as in the kernel', () => {
  assert.deepEqual([0, 1, 2, 4, 8, 16, 64].map(fls), [0, 1, 2, 3, 4, 5, 7]);
  assert.equal(getOrder(4096), 0);
  assert.equal(getOrder(4097), 1);
  assert.equal(getOrder(32768), 3);
});

test('calculate_order reproduces SLUB: order/objects per slab by size and CPU count', () => {
  // Expected values: Linux 6.12 calculate_order() (see docs/slab.md), cells are order/objects.
  const cpus = [1, 2, 4, 8, 16, 64];
  const table: Record<number, string[]> = {
    8: ['0/512', '0/512', '0/512', '0/512', '0/512', '0/512'],
    64: ['0/64', '0/64', '0/64', '0/64', '0/64', '0/64'],
    96: ['0/42', '0/42', '0/42', '0/42', '0/42', '0/42'],
    192: ['0/21', '0/21', '0/21', '0/21', '1/42', '1/42'],
    200: ['0/20', '0/20', '0/20', '0/20', '1/40', '1/40'],
    256: ['0/16', '0/16', '0/16', '1/32', '1/32', '1/32'],
    512: ['0/8', '1/16', '1/16', '2/32', '2/32', '2/32'],
    1000: ['1/8', '2/16', '2/16', '3/32', '3/32', '3/32'],
    1024: ['1/8', '2/16', '2/16', '3/32', '3/32', '3/32'],
    2048: ['2/8', '3/16', '3/16', '3/16', '3/16', '3/16'],
    4096: ['3/8', '3/8', '3/8', '3/8', '3/8', '3/8'],
    8192: ['3/4', '3/4', '3/4', '3/4', '3/4', '3/4'],
  };
  for (const [size, cells] of Object.entries(table)) {
    cpus.forEach((n, i) => {
      const order = calculateOrder(Number(size), n);
      assert.equal(`${order}/${Math.floor((4096 << order) / Number(size))}`, cells[i], `size ${size}, ${n} cpus`);
    });
  }
});

test('calculate_alignment: HWCACHE halves for small objects; kmalloc uses the size’s power-of-two factor', () => {
  assert.equal(calculateAlignment(SlabFlag.HWCACHE_ALIGN, 0, 20), 32);
  assert.equal(calculateAlignment(SlabFlag.HWCACHE_ALIGN, 0, 33), 64);
  assert.equal(calculateAlignment(0, 0, 20), 8);
  assert.equal(calculateAlignment(SlabFlag.KMALLOC, 8, 96), 32);
  assert.equal(calculateAlignment(SlabFlag.KMALLOC, 8, 192), 64);
  assert.equal(calculateAlignment(SlabFlag.KMALLOC, 8, 256), 256);
});

test('calculate_sizes: plain, constructor and debug layouts', () => {
  const plain = calculateLayout(64, 0, SlabFlag.KMALLOC, 2, 'slub');
  assert.deepEqual([plain.size, plain.inuse, plain.freeOffset, plain.redLeftPad], [64, 64, 32, 0]);
  const ctor = calculateLayout(60, 0, SlabFlag.HAS_CTOR, 2, 'slub');
  assert.deepEqual([ctor.size, ctor.inuse, ctor.freeOffset], [72, 64, 64]);
  // Linux's worked example is kmalloc-64 with slab_debug=FZPU: 256. Without U (no tracking): 64 + 8
  // right red zone = 72 inuse, free word outside → 80, + 8 pad → 88, + red_left_pad ALIGN(8, 64) = 64
  // → 152, aligned to 64 → 192.
  const debug = calculateLayout(64, 0, SlabFlag.KMALLOC | SlabFlag.RED_ZONE | SlabFlag.POISON, 2, 'slub');
  assert.deepEqual([debug.inuse, debug.freeOffset, debug.redLeftPad, debug.size], [72, 72, 64, 192]);
});

test('Bonwick colouring: 200-byte objects on a 4 KiB slab give 20 objects and colours 0..64 step 8', () => {
  const layout = calculateLayout(200, 8, 0, 2, 'bonwick');
  assert.equal(layout.order, 0);
  assert.equal(layout.objsPerSlab, 20);
  assert.equal(layout.onSlabHeaderBytes, 32);
  assert.equal(layout.colourStep, 8);
  assert.equal(layout.colourMax, 64);
  const slub = calculateLayout(200, 8, 0, 2, 'slub');
  assert.equal(slub.colourMax, 0, 'SLUB does not colour');
  assert.equal(slub.objsPerSlab, 20);
});

test('bad sizes and alignments are refused', () => {
  assert.throws(() => calculateLayout(0, 0, 0, 2, 'slub'), /positive/);
  assert.throws(() => calculateLayout(64, 24, 0, 2, 'slub'), /power of two/);
  assert.throws(() => calculateLayout(8 << 20, 0, 0, 2, 'slub'), /larger than the largest slab|no slot fits/);
});
