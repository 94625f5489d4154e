// Double frees are exact: the allocation state lives outside the objects (alloc-state.ts), so no
// bytes a caller writes make a live object look free, and of two workers freeing one object at
// the same moment exactly one wins.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Kernel } from '../../../src/mm/kernel.ts';
import { SlabDoubleFreeError } from '../../../src/mm/slab/errors.ts';
import { Prng } from '../../../src/util/prng.ts';
import { runTsWorker } from '../../helpers/worker.ts';

test('whatever a caller writes in its objects, freeing them works and a second free is refused', () => {
  for (const shared of [false, true]) {
    const kernel = Kernel.boot({ ramBytes: '32MiB', shared, cpus: 2 });
    const w = new Int32Array(kernel.buffer);
    const cache = kernel.createCache('scribbled', 24, { magazineRounds: 4 });
    // The slab region's first word (a marker cookie in earlier versions) xor the address, in every
    // word of every object, as a caller could write by chance; then random words.
    const slabWord0 = w[kernel.header.requireRegion('slab').paddr >>> 2] as number;
    const prng = new Prng(9);
    for (const pattern of ['cookie', 'random'] as const) {
      const objects = Array.from({ length: 300 }, () => cache.alloc() as number);
      const km = Array.from({ length: 300 }, (_, i) => kernel.kmalloc(8 + (i % 200)) as number);
      for (const addr of [...objects, ...km]) {
        const words = Math.min(6, kernel.ksize(addr) / 4);
        for (let i = 0; i < words; i++) w[(addr >>> 2) + i] = pattern === 'cookie' ? slabWord0 ^ addr : prng.nextU32() | 0;
      }
      for (const addr of objects) cache.free(addr);
      for (const addr of km) kernel.kfree(addr);
      for (const addr of objects.slice(0, 20)) assert.throws(() => cache.free(addr), (e: unknown) => e instanceof SlabDoubleFreeError && e.message === `double free of 0x${addr.toString(16)} in ${cache.name}: the object is already free; expected an allocated object`);
      for (const addr of km.slice(0, 20)) assert.throws(() => kernel.kfree(addr), SlabDoubleFreeError);
      kernel.validate();
    }
    assert.equal(kernel.slab.stats().caches.find((c) => c.name === 'scribbled')!.inUse, 0);
  }
});

test('two workers freeing the same objects at the same moment: exactly one free of each wins', async () => {
  for (const viaKfree of [false, true]) {
    const kernel = Kernel.boot({ ramBytes: '64MiB', shared: true, cpus: 3 });
    const cache = kernel.createCache('racy', 64, { magazineRounds: 1023 });
    const objects = Array.from({ length: 600 }, () => cache.alloc() as number);
    const sync = new SharedArrayBuffer(8);
    const runs = [0, 1].map(() =>
      runTsWorker<{ won: number[]; refused: number }>(new URL('./race-worker.ts', import.meta.url), { buffer: kernel.buffer, sync, objects, viaKfree }),
    );
    const [a, b] = await Promise.all(runs);
    for (let i = 0; i < objects.length; i++) {
      assert.equal(a!.won[i]! + b!.won[i]!, 1, `object ${i} (0x${objects[i]!.toString(16)}): freed ${a!.won[i]! + b!.won[i]!} times`);
    }
    assert.equal(a!.refused + b!.refused, objects.length);
    kernel.validate();
    const again = new Set(Array.from({ length: objects.length * 2 }, () => cache.alloc() as number));
    assert.equal(again.size, objects.length * 2, 'no object handed out twice');
  }
});
