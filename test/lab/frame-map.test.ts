import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Kernel } from '../../src/mm/kernel.ts';
import { GFP } from '../../src/mm/gfp.ts';
import { FREE_STATES, FrameState, frameCensus, frameMap } from '../../src/lab/views/frame-map.ts';
import { Prng } from '../../src/util/prng.ts';

test('frame map: free, slab, allocated and reserved frames add up to the kernel\'s own counters', () => {
  const kernel = Kernel.boot({ ramBytes: '32MiB', cpus: 1 });
  const prng = new Prng(3);
  const blocks: [number, number][] = [];
  const cache = kernel.createCache('thing', 200);
  const objects: number[] = [];
  for (let i = 0; i < 3000; i++) {
    const r = prng.nextFloat();
    if (r < 0.3) {
      const order = prng.int(4);
      blocks.push([kernel.pages.allocPages(order, prng.chance(0.5) ? GFP.HIGHUSER_MOVABLE : GFP.KERNEL) as number, order]);
    } else if (r < 0.45 && blocks.length > 0) {
      const [pfn, order] = blocks.splice(prng.int(blocks.length), 1)[0] as [number, number];
      kernel.pages.freePages(pfn, order);
    } else if (r < 0.9) objects.push(cache.alloc() as number);
    else if (objects.length > 0) cache.free(objects.splice(prng.int(objects.length), 1)[0] as number);
  }
  const census = frameCensus(frameMap(kernel));
  const stats = kernel.stats();
  const free = FREE_STATES.reduce<number>((sum, s) => sum + (census[s] as number), 0);
  assert.equal(free, kernel.pages.freePagesTotal);
  assert.equal(census[FrameState.Slab], stats.slab.totals.pages);
  const movable = blocks.filter(([pfn]) => kernel.memMap.allocMigratetype(pfn) === 1).reduce((sum, [, order]) => sum + (1 << order), 0);
  const unmovable = blocks.reduce((sum, [, order]) => sum + (1 << order), 0) - movable;
  assert.equal(census[FrameState.AllocatedMovable], movable);
  assert.equal(census[FrameState.AllocatedUnmovable], unmovable);
  assert.equal(census[FrameState.Other], 0);
  assert.equal(census.reduce((a, b) => a + b, 0), kernel.memMap.nrPages);
  assert.ok((census[FrameState.Reserved] as number) > 0);
  assert.ok((census[FrameState.Slab] as number) > 0);
});
