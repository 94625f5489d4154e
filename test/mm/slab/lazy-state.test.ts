// Lazy allocation state (src/mm/slab/alloc-state.ts): over a plain ArrayBuffer the fast paths leave
// the state bitmap alone and a free round carries a mark word; double frees stay exact.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Kernel } from '../../../src/mm/kernel.ts';
import { FREE_MARK } from '../../../src/mm/slab/alloc-state.ts';
import { InvalidPointerError, SlabDoubleFreeError } from '../../../src/mm/slab/errors.ts';

function stateBytes(kernel: Kernel): Uint8Array {
  const region = kernel.header.requireRegion('slab-state');
  return new Uint8Array(kernel.buffer, region.paddr, region.sizeBytes).slice();
}

test('plain arena: alloc and free through the magazines leave the state bitmap untouched', () => {
  const kernel = Kernel.boot({ ramBytes: '16MiB', cpus: 1 });
  const cache = kernel.createCache('quiet', 64, { magazineRounds: 16 });
  const warm = Array.from({ length: 8 }, () => [cache.alloc(), kernel.kmalloc(40)] as const);
  for (const [a, b] of warm) {
    cache.free(a);
    kernel.kfree(b);
  }
  const before = stateBytes(kernel);
  for (let i = 0; i < 10_000; i++) {
    const a = cache.alloc();
    const b = kernel.kmalloc(40);
    cache.free(a);
    kernel.kfree(b);
  }
  assert.deepEqual(stateBytes(kernel), before, 'no state bit changed on the fast paths');
  assert.equal(cache.lazy, true);
  kernel.validate();
  // A shared arena keeps the eager bitmap: each free clears a bit.
  const shared = Kernel.boot({ ramBytes: '16MiB', cpus: 1, shared: true });
  const eager = shared.createCache('eager', 64);
  const x = eager.alloc();
  const held = stateBytes(shared);
  eager.free(x);
  assert.notDeepEqual(stateBytes(shared), held);
  assert.equal(eager.lazy, false);
});

test('plain arena: a live object that carries a round’s mark by chance frees once, then the second free is refused', () => {
  const kernel = Kernel.boot({ ramBytes: '16MiB', cpus: 2 });
  const w = new Int32Array(kernel.buffer);
  const cache = kernel.createCache('forged', 64, { magazineRounds: 8 });
  const objects = Array.from({ length: 40 }, () => cache.alloc());
  // kmalloc-8's mark is its second word (its first is the free pointer), kmalloc-64's its first.
  const small = Array.from({ length: 40 }, () => kernel.kmalloc(8));
  const mid = Array.from({ length: 40 }, () => kernel.kmalloc(64));
  const markOf = (addr: number): number => addr ^ FREE_MARK;
  for (const addr of objects) w[(addr >>> 2) + cache.markWord] = markOf(addr);
  for (const addr of [...small, ...mid]) {
    for (let i = 0; i < 2; i++) w[(addr >>> 2) + i] = markOf(addr);
  }
  for (const addr of [...small, ...mid]) assert.ok(kernel.ksize(addr) >= 8, 'a forged mark does not make ksize() call it free');
  for (const addr of objects) cache.free(addr);
  for (const addr of [...small, ...mid]) kernel.kfree(addr);
  kernel.validate();
  for (const addr of objects) assert.throws(() => cache.free(addr), SlabDoubleFreeError);
  for (const addr of [...small, ...mid]) assert.throws(() => kernel.kfree(addr), SlabDoubleFreeError);
  assert.throws(() => kernel.ksize(mid[0]!), InvalidPointerError);
  kernel.validate();
});

test('plain arena: a second free is refused wherever the object went (this CPU, another CPU, the depot, the slab)', () => {
  const kernel = Kernel.boot({ ramBytes: '16MiB', cpus: 2 });
  const other = Kernel.attach(kernel.buffer); // a second CPU over the same plain arena, same thread
  const cache = kernel.createCache('places', 96, { magazineRounds: 4 });
  const theirs = other.slab.cache('places');
  const objects = Array.from({ length: 64 }, () => cache.alloc());
  // Freed on this CPU: refused here and on the other CPU, through the cache and through kfree.
  cache.free(objects[0]!);
  assert.throws(() => cache.free(objects[0]!), SlabDoubleFreeError);
  assert.throws(() => theirs.free(objects[0]!), SlabDoubleFreeError);
  assert.throws(() => other.kfree(objects[0]!), SlabDoubleFreeError);
  // Freed on the other CPU (its loaded magazine), then its magazines go to the depot.
  theirs.free(objects[1]!);
  assert.throws(() => cache.free(objects[1]!), SlabDoubleFreeError);
  for (const addr of objects.slice(2, 20)) theirs.free(addr);
  theirs.drain();
  for (const addr of objects.slice(1, 20)) assert.throws(() => cache.free(addr), SlabDoubleFreeError);
  // Back in the slabs after a shrink.
  cache.shrink();
  for (const addr of objects.slice(0, 20)) assert.throws(() => theirs.free(addr), SlabDoubleFreeError);
  kernel.validate();
  for (const addr of objects.slice(20)) theirs.free(addr);
  kernel.validate();
  assert.equal(kernel.slab.stats().caches.find((c) => c.name === 'places')!.inUse, 0);
});

test('init_on_free and constructor caches on a plain arena: the mark never shows in an allocated object', () => {
  const kernel = Kernel.boot({ ramBytes: '16MiB', cpus: 1, slab: { initOnFree: true } });
  const bytes = new Uint8Array(kernel.buffer);
  const zeroed = kernel.createCache('zeroed', 48, { magazineRounds: 4 });
  const a = Array.from({ length: 10 }, () => zeroed.alloc());
  for (const addr of a) bytes.fill(0xa5, addr, addr + 48);
  for (const addr of a) zeroed.free(addr);
  assert.throws(() => zeroed.free(a[3]!), SlabDoubleFreeError);
  for (let i = 0; i < 10; i++) {
    const addr = zeroed.alloc();
    assert.ok(bytes.subarray(addr, addr + 48).every((b) => b === 0), 'init_on_free: allocated objects are zero');
  }
  const w = new Int32Array(kernel.buffer);
  const built = kernel.createCache('built', 32, { ctor: (addr) => w.fill(7, addr >>> 2, (addr >>> 2) + 8), magazineRounds: 4 });
  const objs = Array.from({ length: 10 }, () => built.alloc());
  for (const addr of objs) built.free(addr);
  for (let i = 0; i < 10; i++) {
    const addr = built.alloc();
    assert.ok(w.subarray(addr >>> 2, (addr >>> 2) + 8).every((x) => x === 7), 'a constructed object keeps its bytes through free and alloc');
  }
  kernel.validate();
});

test('a copy of a plain arena attached over shared memory turns its magazine rounds eager', () => {
  const kernel = Kernel.boot({ ramBytes: '16MiB', cpus: 2 });
  const cache = kernel.createCache('moved', 64, { magazineRounds: 8 });
  const objects = Array.from({ length: 100 }, () => cache.alloc());
  for (const addr of objects.slice(0, 60)) cache.free(addr); // rounds in magazines and the depot
  const copy = new SharedArrayBuffer(kernel.buffer.byteLength);
  new Uint8Array(copy).set(new Uint8Array(kernel.buffer));
  const resumed = Kernel.attach(copy, { resume: true });
  resumed.validate();
  const there = resumed.slab.cache('moved');
  assert.equal(there.lazy, false);
  for (const addr of objects.slice(0, 60)) assert.throws(() => there.free(addr), SlabDoubleFreeError);
  for (const addr of objects.slice(60)) there.free(addr);
  resumed.validate();
  const again = new Set(Array.from({ length: 100 }, () => there.alloc()));
  assert.equal(again.size, 100, 'no object handed out twice');
  resumed.validate();
});

test('lazy state: validate() reports a free object whose mark was overwritten (a write after free)', () => {
  const kernel = Kernel.boot({ ramBytes: '16MiB', cpus: 1 });
  const w = new Int32Array(kernel.buffer);
  const cache = kernel.createCache('scribbled-after-free', 64, { magazineRounds: 8 });
  const addr = cache.alloc();
  cache.free(addr);
  const word = (addr >>> 2) + cache.markWord;
  const mark = w[word] as number;
  assert.equal(mark, addr ^ FREE_MARK, 'a freed object carries its mark');
  w[word] = 12345;
  assert.throws(() => kernel.validate(), /lost its free mark/);
  w[word] = mark;
  kernel.validate();
});

test('a copy of a shared arena attached over a plain buffer stays eager', () => {
  const kernel = Kernel.boot({ ramBytes: '16MiB', cpus: 2, shared: true });
  const cache = kernel.createCache('stays', 64, { magazineRounds: 8 });
  const objects = Array.from({ length: 40 }, () => cache.alloc());
  for (const addr of objects.slice(0, 20)) cache.free(addr);
  const copy = new ArrayBuffer(kernel.buffer.byteLength);
  new Uint8Array(copy).set(new Uint8Array(kernel.buffer));
  const resumed = Kernel.attach(copy, { resume: true });
  const there = resumed.slab.cache('stays');
  assert.equal(there.lazy, false);
  for (const addr of objects.slice(0, 20)) assert.throws(() => there.free(addr), SlabDoubleFreeError);
  for (const addr of objects.slice(20)) there.free(addr);
  resumed.validate();
});
