// A worker killed by terminate() stops at V8's next interrupt check, which may fall half-way through
// a slow path of the slab allocator. Here a second kernel handle in this thread plays that worker:
// it leaves the cache as a kill at one such point would, and its CPU is offlined. The lock it held
// is taken over and what it guards rebuilt (repairSlabLists, repairDepot); what it held between two
// places is in its hands (types.ts HAND_*), and offlining it puts that back (reclaimCpu).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Kernel } from '../../../src/mm/kernel.ts';
import type { KmemCache } from '../../../src/mm/slab/cache.ts';
import { cpuFlush, depotPop } from '../../../src/mm/slab/depot.ts';
import { internalTake, slabTakeOne } from '../../../src/mm/slab/slab-layer.ts';
import { C_DEPOT_FULL, C_EMPTY, C_NR_DEPOT_FULL, C_PARTIAL, D_INUSE, D_PFN_ORDER, HAND_DESC, HAND_OBJ, HAND_ROUNDS, HAND_MAG, HAND_SLAB, slabGrowOwner } from '../../../src/mm/slab/types.ts';
import { GFP } from '../../../src/mm/gfp.ts';
import { PageFlag } from '../../../src/mm/types.ts';
import { SlabFlag } from '../../../src/mm/slab/layout.ts';

interface Machine {
  kernel: Kernel;
  /** The dying worker's view of the machine. */
  other: Kernel;
  mine: KmemCache;
  theirs: KmemCache;
}

/** A kernel, a cache, and a second handle (another CPU) that has used it. */
function machine(size = 64, flags = 0): Machine {
  const kernel = Kernel.boot({ ramBytes: '64MiB', shared: true, cpus: 3 });
  const mine = kernel.createCache('torn', size, { flags });
  const other = Kernel.attach(kernel.buffer);
  const theirs = other.slab.cache('torn');
  theirs.free(theirs.alloc());
  return { kernel, other, mine, theirs };
}

/** grow()'s first steps on the other CPU: the pages, under its growing tag, then a descriptor naming them, all in its hands. Returns the descriptor. */
function halfMadeSlab(m: Machine): number {
  const hands = m.theirs.hands;
  const pfnOrder = m.other.pages.allocPages(m.theirs.order, GFP.COMP, slabGrowOwner(m.other.cpu)) | (m.theirs.order << 24);
  m.theirs.w[hands + HAND_SLAB] = pfnOrder;
  const desc = internalTake(m.other.slab.descriptorCache());
  m.theirs.w[m.theirs.d(desc, D_PFN_ORDER)] = pfnOrder;
  m.theirs.w[hands + HAND_DESC] = desc;
  return desc;
}

/** Everything of the cache can be allocated and freed again, and none is lost: inUse 0 after. */
function nothingLost(m: Machine, held: number[] = []): void {
  m.kernel.validate();
  for (const addr of held) m.mine.free(addr);
  m.mine.drain();
  m.kernel.slab.shrink();
  assert.equal(m.kernel.slab.stats().caches.find((c) => c.name === 'torn')!.inUse, 0, 'objects lost');
  m.kernel.validate();
}

test('an object taken off a slab free list, its state bit still clear, goes back to its slab when the CPU is offlined', () => {
  const m = machine();
  // allocDirect's window: the object is off the list (slabTakeOne) and the lock dropped, not yet marked allocated.
  m.theirs.slabLock.acquire();
  const addr = slabTakeOne(m.theirs);
  m.theirs.slabLock.release();
  assert.throws(() => m.kernel.validate(), /is marked free but is on no free list and in no magazine/);
  m.kernel.offlineCpu(m.other.cpu);
  assert.equal(m.mine.isFree(addr), true);
  nothingLost(m);
});

test('a slab lock its holder died with is taken over and the lists rebuilt: a slab between two lists, a stale in-use count', () => {
  const m = machine();
  const held = Array.from({ length: 3 }, () => m.mine.alloc());
  m.theirs.slabLock.acquire();
  // A list move cut short: off the partial list, not yet on the next; and a count not yet updated.
  const desc = m.theirs.word(C_PARTIAL) >>> 0;
  assert.notEqual(desc, 0);
  m.theirs.listDel(desc, C_PARTIAL);
  m.theirs.w[m.theirs.d(desc, D_INUSE)]! += 5;
  m.kernel.offlineCpu(m.other.cpu);
  assert.equal(m.kernel.lockRecoveries.length, 1, 'the slab lock was taken over');
  nothingLost(m, held);
});

test('a full magazine popped from the depot and never loaded gives its rounds back when the CPU is offlined', () => {
  const m = machine();
  // A full magazine in the depot: this CPU fills its magazines and gives them back.
  const objs = Array.from({ length: m.mine.rounds * 3 }, () => m.mine.alloc());
  for (const addr of objs) m.mine.free(addr);
  m.mine.drain();
  assert.ok(m.mine.word(C_NR_DEPOT_FULL) > 0);
  // The other CPU's allocSlow: the magazine leaves the depot for its hands; it dies before loading it.
  const hands = m.theirs.hands;
  m.theirs.depotLock.acquire();
  m.theirs.w[hands + HAND_ROUNDS] = m.theirs.rounds;
  const mag = depotPop(m.theirs, C_DEPOT_FULL, hands + HAND_MAG);
  m.theirs.depotLock.release();
  assert.notEqual(mag, 0);
  assert.throws(() => m.kernel.validate(), /lost/);
  m.kernel.offlineCpu(m.other.cpu);
  nothingLost(m);
});

test('a slab being made when its CPU died (pages and descriptor taken, not yet published) goes back whole', () => {
  // 1 KiB objects: the descriptor is off the slab, from kmem_slab.
  const m = machine(1024);
  assert.equal(m.theirs.onSlabHeaderBytes, 0);
  const free = m.kernel.pages.freePagesTotal;
  const slabs = m.kernel.slab.stats().caches.find((c) => c.name === 'kmem_slab')!.inUse;
  halfMadeSlab(m);
  m.kernel.offlineCpu(m.other.cpu);
  m.kernel.validate();
  assert.equal(m.kernel.pages.freePagesTotal, free, 'the pages are free again');
  assert.equal(m.kernel.slab.stats().caches.find((c) => c.name === 'kmem_slab')!.inUse, slabs, 'the descriptor is free again');
  nothingLost(m);
});

test('a slab whose release was cut short (off its list, its pages not yet freed) is freed when its CPU is offlined', () => {
  // A red-zoned cache has no magazines: its frees go straight to the slabs, and an empty slab stays
  // on the empty list (min_partial).
  const m = machine(64, SlabFlag.RED_ZONE);
  const free = m.kernel.pages.freePagesTotal;
  const objs = Array.from({ length: m.mine.objs }, () => m.mine.alloc());
  for (const addr of objs) m.mine.free(addr);
  const desc = m.theirs.word(C_EMPTY) >>> 0;
  assert.notEqual(desc, 0);
  const { pfn, order } = m.theirs.slabPages(desc);
  const pagesBefore = m.kernel.pages.freePagesTotal;
  // releaseSlab on the other CPU, under the slab lock: in its hands, off the list, no longer marked
  // as a slab; it dies before the pages go back.
  const hands = m.theirs.hands;
  m.theirs.slabLock.acquire();
  m.theirs.w[hands + HAND_DESC] = 0;
  m.theirs.w[hands + HAND_SLAB] = pfn | (order << 24);
  m.theirs.listDel(desc, C_EMPTY);
  m.other.memMap.flags[pfn] = m.other.memMap.flags[pfn]! & ~PageFlag.Slab;
  m.kernel.offlineCpu(m.other.cpu);
  assert.equal(m.kernel.pages.freePagesTotal, pagesBefore + (1 << order), 'the slab pages are free');
  nothingLost(m);
  assert.ok(m.kernel.pages.freePagesTotal >= free);
});

test('a depot lock its holder died with is taken over and the depot recounted (a push cut short before its count)', () => {
  const m = machine();
  const objs = Array.from({ length: m.mine.rounds * 3 }, () => m.mine.alloc());
  for (const addr of objs) m.mine.free(addr);
  m.mine.drain();
  const full = m.mine.word(C_NR_DEPOT_FULL);
  assert.ok(full > 0);
  m.theirs.depotLock.acquire();
  m.theirs.w[m.theirs.base + C_NR_DEPOT_FULL]! -= 1; // the magazine is on the list, the count not yet raised
  m.kernel.offlineCpu(m.other.cpu);
  assert.equal(m.kernel.lockRecoveries.length, 1, 'the depot lock was taken over');
  assert.equal(m.mine.word(C_NR_DEPOT_FULL), full);
  nothingLost(m);
});

test('an offline that meets a busy lock part-way through its repair finishes later from where it stopped: nothing freed twice or lost', async () => {
  // 1 KiB objects: slabs of order 3, so the repair's page free takes the zone lock (no per-CPU list).
  const m = machine(1024);
  assert.ok(m.theirs.order > 0);
  const free = m.kernel.pages.freePagesTotal;
  const slabs = m.kernel.slab.stats().caches.find((c) => c.name === 'kmem_slab')!.inUse;
  const desc = halfMadeSlab(m);
  // A live CPU holds the zone lock: the repair gives the descriptor back, then meets the lock.
  const third = Kernel.attach(m.kernel.buffer);
  const zone = third.pages.zones.at(-1)!;
  void third.cpu;
  zone.lock.acquire();
  m.kernel.offlineCpu(m.other.cpu);
  assert.deepEqual(m.kernel.pendingOfflines(), [m.other.cpu], 'left pending at the busy lock');
  assert.equal(m.kernel.slab.stats().caches.find((c) => c.name === 'kmem_slab')!.inUse, slabs, 'the descriptor went back before the lock was met');
  // Another CPU takes that descriptor for a slab of its own meanwhile.
  const reused = internalTake(third.slab.descriptorCache());
  assert.equal(reused, desc);
  zone.lock.release();
  await new Promise((resolve) => setTimeout(resolve, 100));
  assert.deepEqual(m.kernel.pendingOfflines(), [], 'finished on the timer');
  assert.equal(m.kernel.pages.freePagesTotal, free, 'the pages went back on the retry');
  assert.equal(third.slab.descriptorCache().state.isAllocated(reused), true, 'the other CPU keeps its descriptor');
  m.kernel.validate();
});

test('a free in progress that answers another CPU\'s drain request (its magazines flushed to the slabs) keeps its object in its hands', () => {
  const m = machine();
  const objs = Array.from({ length: 10 }, () => m.theirs.alloc());
  for (const addr of objs.slice(1)) m.theirs.free(addr); // rounds in the other CPU's magazine
  const x = objs[0]!;
  // freeChecked's first steps on the other CPU: the object in its hands, its state bit cleared;
  // then freeSlow answers a drain request (a shrink elsewhere), flushing its magazines, and the
  // worker is killed before the object reaches a magazine or its slab.
  m.theirs.w[m.theirs.hands + HAND_OBJ] = x;
  assert.equal(m.theirs.state.markFree(x), true);
  cpuFlush(m.theirs, true);
  assert.equal(m.theirs.w[m.theirs.hands + HAND_OBJ], x, 'the flush left the hands alone');
  m.kernel.offlineCpu(m.other.cpu);
  assert.equal(m.mine.isFree(x), true);
  nothingLost(m);
});

test('an object whose free was cut short after its state bit cleared gets what the free would have done: poison and red zones, or zeroing', () => {
  for (const flags of [SlabFlag.RED_ZONE | SlabFlag.POISON, SlabFlag.INIT_ON_FREE]) {
    const m = machine(96, flags);
    const x = m.theirs.alloc();
    m.kernel.ram.bytes.fill(0x5e, x, x + 96); // a secret, say
    // The free's first steps on the other CPU (freeDirect, or freeChecked for init_on_free): the
    // object in its hands, its state bit cleared; it dies before the zeroing or the poisoning.
    m.theirs.w[m.theirs.hands + HAND_OBJ] = x;
    assert.equal(m.theirs.state.markFree(x), true);
    m.kernel.offlineCpu(m.other.cpu);
    assert.equal(m.mine.isFree(x), true);
    // Wiped, but for the free-list link word a free object carries (init_on_alloc clears it).
    const link = m.mine.linkWord * 4;
    if ((flags & SlabFlag.INIT_ON_FREE) !== 0) assert.ok(m.kernel.ram.bytes.subarray(x, x + 96).every((b, i) => b === 0 || (i >= link && i < link + 4)), 'wiped');
    nothingLost(m); // validate() checks a free debug object's red zones and poison
  }
});
