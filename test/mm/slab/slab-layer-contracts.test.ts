// The slab layer's cheap, always-on preconditions (src/mm/slab/slab-layer.ts): taking from a slab
// that has no free object, or putting an object back into a slab that has none in use, is an
// InvariantError naming the cache, the slab and its counts, not a corrupt freelist.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Kernel } from '../../../src/mm/kernel.ts';
import { SlabFlag } from '../../../src/mm/slab/layout.ts';
import { D_INUSE } from '../../../src/mm/slab/types.ts';
import { InvariantError } from '../../../src/util/errors.ts';

function debugCache(): { cache: ReturnType<Kernel['createCache']>; a: number; inuseWord: number } {
  const kernel = Kernel.boot({ ramBytes: '16MiB' });
  // A debug cache: every allocation and free goes through the slab layer.
  const cache = kernel.createCache('contract64', 64, { flags: SlabFlag.POISON });
  const a = cache.alloc();
  return { cache, a, inuseWord: cache.d(cache.descOf(a), D_INUSE) };
}

test('slabTakeOne refuses a slab on the partial list whose count says it is full', () => {
  const { cache, inuseWord } = debugCache();
  const objs = cache.objs;
  cache.w[inuseWord] = objs; // corrupt: the partial slab claims every object in use
  assert.throws(() => cache.alloc(), (e: unknown) => e instanceof InvariantError && new RegExp(`contract64: slab 0x[0-9a-f]+ has freelist 0x[0-9a-f]+ and ${objs} of ${objs} objects in use; expected a free object`).test(e.message));
});

test('slabPut refuses an object whose slab has no object in use', () => {
  const { cache, a, inuseWord } = debugCache();
  cache.w[inuseWord] = 0; // corrupt: the slab claims every object free
  assert.throws(() => cache.free(a), (e: unknown) => e instanceof InvariantError && /contract64: object 0x[0-9a-f]+ put back into slab 0x[0-9a-f]+, which has 0 objects in use; expected at least one/.test(e.message));
});
