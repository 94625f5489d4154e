// Handles across detach, destroy and slot reuse; constructors that allocate or throw; refills that
// fail part-way; objects found in two places. Each case ends with validate().
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Kernel } from '../../../src/mm/kernel.ts';
import { SlabFlag } from '../../../src/mm/slab/layout.ts';
import {
  CacheBusyError,
  CacheDestroyedError,
  CacheNameError,
  DuplicateObjectError,
} from '../../../src/mm/slab/errors.ts';
import { ROW_WORDS } from '../../../src/mm/slab/cpu-slab.ts';
import { P_LOADED, P_ROUNDS } from '../../../src/mm/slab/types.ts';
import { ArgumentError } from '../../../src/util/errors.ts';

function boot(ramBytes = '32MiB'): Kernel {
  return Kernel.boot({ ramBytes, shared: true, cpus: 4 });
}

test('init_on_free: objects come back all zero on the fast path, free word included', () => {
  const kernel = Kernel.boot({ ramBytes: '16MiB', slab: { initOnFree: true } });
  const cache = kernel.createCache('wiped', 64);
  const first = Array.from({ length: 100 }, () => cache.alloc() as number);
  for (const addr of first) assert.ok(kernel.ram.bytes.subarray(addr, addr + 64).every((b) => b === 0), 'fresh object');
  for (const addr of first) kernel.ram.bytes.fill(0x77, addr, addr + 64);
  for (const addr of first) cache.free(addr);
  cache.shrink();
  const again = Array.from({ length: 300 }, () => cache.alloc() as number);
  for (const addr of again) assert.ok(kernel.ram.bytes.subarray(addr, addr + 64).every((b) => b === 0), `reused object 0x${addr.toString(16)}`);
  kernel.validate();
});

test('init_on_alloc zeroes on the fast path', () => {
  const kernel = Kernel.boot({ ramBytes: '16MiB', slab: { initOnAlloc: true } });
  const cache = kernel.createCache('zeroed', 128);
  const addr = cache.alloc() as number;
  kernel.ram.bytes.fill(0x55, addr, addr + 128);
  cache.free(addr);
  assert.equal(cache.alloc(), addr);
  assert.ok(kernel.ram.bytes.subarray(addr, addr + 128).every((b) => b === 0));
});

test('a constructor may allocate, even from its own cache, and one that throws leaves nothing behind', () => {
  const kernel = boot();
  const w = new Int32Array(kernel.buffer);
  let calls = 0;
  let failAt = -1;
  const nodes = kernel.createCache('node', 64, {
    ctor: (addr) => {
      calls++;
      if (calls === failAt) throw new Error('constructor failed');
      w[addr >>> 2] = kernel.kmalloc(16) as number; // a constructor that allocates
    },
    magazineRounds: 4,
  });
  const a = nodes.alloc() as number;
  assert.ok(kernel.ksize(w[a >>> 2] as number) === 16);
  kernel.validate();
  // Fill the slab, then make the next slab's constructor throw half-way.
  const held = [a];
  while (held.length < nodes.objs) held.push(nodes.alloc() as number);
  failAt = calls + 10;
  const pagesBefore = kernel.pages.freePagesTotal;
  assert.throws(() => nodes.alloc(), /constructor failed/);
  assert.equal(kernel.pages.freePagesTotal, pagesBefore, 'the half-built slab went back');
  kernel.validate();
  failAt = -1;
  const b = nodes.alloc() as number;
  assert.ok(b !== null);
  for (const addr of [...held, b]) nodes.free(addr);
  kernel.validate();
});

test('a refill that fails part-way keeps what it took', () => {
  const kernel = boot();
  let calls = 0;
  let failAt = -1;
  const cache = kernel.createCache('partial', 1000, {
    ctor: () => {
      calls++;
      if (calls === failAt) throw new Error('no');
    },
  });
  // One slab of 1000-byte objects holds fewer objects than one magazine refill wants.
  assert.ok(cache.objs < cache.rounds);
  failAt = cache.objs + 3; // the refill's second slab fails
  assert.throws(() => cache.alloc(), /no/);
  const stats = kernel.slab.stats().caches.find((c) => c.name === 'partial')!;
  assert.equal(stats.inMagazines, cache.objs, 'the first slab’s objects wait in the magazine');
  kernel.validate();
  failAt = -1;
  const addr = cache.alloc() as number;
  cache.free(addr);
  kernel.validate();
});

test('a handle found before its constructor was registered still constructs', () => {
  const kernel = boot();
  const ctor = (addr: number): void => {
    kernel.ram.bytes.fill(9, addr, addr + 8);
  };
  kernel.createCache('late', 64, { ctor });
  const other = Kernel.attach(kernel.buffer);
  other.slab.shrink(); // builds handles for every cache, without the constructor
  const addr = other.slab.cache('late', { ctor }).alloc() as number;
  assert.equal(kernel.ram.bytes[addr], 9);
  kernel.validate();
});

test('after detach a handle claims a slot again; it never shares another worker’s words', () => {
  const kernel = boot();
  kernel.createCache('roam', 64);
  const one = Kernel.attach(kernel.buffer);
  const handle = one.slab.cache('roam');
  const a = handle.alloc() as number;
  const oldCpu = one.slab.cpu;
  one.slab.detach();
  const two = Kernel.attach(kernel.buffer);
  const theirs = two.slab.cache('roam');
  const b = theirs.alloc() as number;
  assert.equal(two.slab.cpu, oldCpu, 'the other worker took the freed slot');
  const c = handle.alloc() as number; // rebinds to a new slot
  assert.notEqual(one.slab.cpu, oldCpu);
  assert.ok(new Set([a, b, c]).size === 3 && c !== 0);
  handle.free(a);
  handle.free(c);
  theirs.free(b);
  kernel.validate();
});

test('destroyed caches: stale handles raise, slots are reused safely, busy caches are kept', () => {
  const kernel = boot();
  const old = kernel.createCache('gone', 64);
  const x = old.alloc() as number;
  old.free(x);
  // Another CPU still holds magazines of the cache: destroy refuses.
  const other = Kernel.attach(kernel.buffer);
  const theirs = other.slab.cache('gone');
  theirs.free(theirs.alloc() as number);
  assert.throws(() => kernel.slab.destroyCache(old), (e: unknown) => e instanceof CacheBusyError && /CPU \d still holds/.test(e.message));
  theirs.drain();
  kernel.slab.destroyCache(old);
  kernel.validate();
  assert.throws(() => old.alloc(), CacheDestroyedError);
  assert.throws(() => kernel.slab.destroyCache(old), CacheDestroyedError);
  // The slot is reused: kfree of the new cache's objects works, also through a worker that knew the old one.
  const fresh = kernel.createCache('fresh', 200);
  assert.equal(fresh.index, old.index);
  assert.notEqual(fresh.tag, old.tag, 'a new generation');
  const y = fresh.alloc() as number;
  other.kfree(y);
  assert.throws(() => old.free(y), /belongs to cache 'fresh'/);
  kernel.validate();
});

test('a stale handle never reaches the magazines of the cache that reused its slot', () => {
  const kernel = boot();
  const old = kernel.createCache('first', 64);
  const x = old.alloc() as number;
  old.free(x);
  kernel.slab.destroyCache(old);
  const fresh = kernel.createCache('second', 64);
  assert.equal(fresh.index, old.index, 'same slot, same per-CPU words');
  // Load this CPU's magazine of the new cache, then use the stale handle: both paths refuse.
  const held = Array.from({ length: 4 }, () => fresh.alloc() as number);
  for (const a of held) fresh.free(a);
  assert.throws(() => old.alloc(), CacheDestroyedError);
  assert.throws(() => old.free(held[0] as number), /belongs to cache 'second'/);
  // Nothing of its own is left to drain: it must not flush this CPU's magazine of the new cache.
  const w = new Int32Array(kernel.buffer);
  const p = kernel.slab.pcpuWord(fresh.index, kernel.slab.cpu);
  const loaded = [w[p + P_LOADED], w[p + P_ROUNDS]];
  assert.ok((w[p + P_ROUNDS] as number) >= held.length);
  old.drain();
  assert.deepEqual([w[p + P_LOADED], w[p + P_ROUNDS]], loaded);
  kernel.validate();
  // The new cache lost nothing: its rounds are still its own.
  const again = new Set(Array.from({ length: 4 }, () => fresh.alloc() as number));
  assert.deepEqual([...again].sort(), [...held].sort());
  for (const a of again) fresh.free(a);
  kernel.validate();
});

test("kmem's own caches and the kmalloc caches are not the caller's to destroy or list", () => {
  const kernel = boot();
  assert.ok(kernel.slab.caches().every((c) => !c.name.startsWith('kmem_')));
  const kmalloc64 = kernel.slab.cache('kmalloc-64');
  assert.throws(() => kernel.slab.destroyCache(kmalloc64), CacheNameError);
  kernel.validate();
});

test('magazineRounds and maxCaches are bounded', () => {
  const kernel = boot();
  assert.throws(() => kernel.createCache('zero', 64, { magazineRounds: 0 }), ArgumentError);
  assert.throws(() => Kernel.boot({ ramBytes: '16MiB', slab: { maxCaches: 40000 } }), /maxCaches 40000/);
  kernel.validate();
});

test('a round found in two places is dropped with a DuplicateObjectError', () => {
  const kernel = boot();
  const cache = kernel.createCache('twice', 64);
  const a = cache.alloc() as number;
  const b = cache.alloc() as number;
  cache.free(b);
  // Corrupt this CPU's loaded magazine as a racing double free would: push `a`, which is in use.
  const w = new Int32Array(kernel.buffer);
  const mag = w[cache.pcpu + P_LOADED] as number;
  const rounds = w[cache.pcpu + P_ROUNDS] as number;
  w[(mag >>> 2) + 1 + rounds] = a;
  w[cache.pcpu + P_ROUNDS] = rounds + 1;
  assert.throws(() => cache.alloc(), (e: unknown) => e instanceof DuplicateObjectError && e.addr === a);
  kernel.validate();
  assert.equal(cache.alloc(), b, 'the next round is fine');
  cache.free(a);
  cache.free(b);
  kernel.validate();
});

test('objects above 2 GiB: the fast free and the double-free check work unsigned', () => {
  const kernel = Kernel.boot({ ramBytes: '2304MiB' });
  const cache = kernel.createCache('high', 48, { flags: SlabFlag.HWCACHE_ALIGN });
  const addrs = Array.from({ length: 200 }, () => cache.alloc() as number);
  const high = addrs.find((a) => a >= 2 ** 31) as number;
  assert.ok(high !== undefined, 'some object lies above 2 GiB');
  // The fast path itself takes it (a signed compare would refuse it and leave it to the slow path).
  assert.equal(kernel.slab.cpuSlab.free(high, cache.index * ROW_WORDS), true);
  for (const addr of addrs) if (addr !== high) cache.free(addr);
  assert.throws(() => cache.free(high), /double free/);
  kernel.validate();
});
