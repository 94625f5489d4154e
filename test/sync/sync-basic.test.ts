// Locks, the futex table and both RCU flavours on one thread: the bookkeeping (owners, statistics,
// recovery, grace periods, kfree_rcu batches, stall warnings) checked step by step. The
// multi-worker behaviour is in sync-workers.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Kernel } from '../../src/mm/kernel.ts';
import { SlabFlag } from '../../src/mm/slab/layout.ts';
import { SyncDomain } from '../../src/sync/domain.ts';
import { LockUsageError, RcuUsageError } from '../../src/sync/errors.ts';
import { EPOCH_MAX } from '../../src/sync/rcu-epoch.ts';
import { Rcu } from '../../src/sync/rcu.ts';
import type { RcuStall } from '../../src/sync/rcu.ts';
import { CPU_EPOCH, CPU_KFREE_EPOCH, CPU_KFREE_QSBR, KC_OBJECTS, KFREE_BLOCK_SLOTS, S_EPOCH } from '../../src/sync/types.ts';

function boot(cpus = 4): { kernel: Kernel; sync: SyncDomain } {
  const kernel = Kernel.boot({ ramBytes: '16MiB', shared: true, cpus });
  return { kernel, sync: SyncDomain.create(kernel, { cpu: 0 }) };
}

test('the futex hash table has roundup_pow_of_two(256 × possible CPUs) buckets, as Linux futex_init()', () => {
  for (const [cpus, buckets] of [[1, 256], [2, 512], [3, 1024], [8, 2048]] as const) {
    const kernel = Kernel.boot({ ramBytes: '16MiB', shared: true, cpus });
    assert.equal(SyncDomain.create(kernel).nrBuckets, buckets);
  }
});

test('a mutex records its owner, counts acquisitions, and refuses a release by another CPU and a re-entrant acquire', () => {
  const { kernel, sync } = boot();
  const other = SyncDomain.attach(kernel, sync.paddr, 1);
  const m = sync.mutex('m');
  m.acquire();
  assert.equal(sync.lockStats(m.index).ownerCpu, 0);
  assert.throws(() => other.mutex('m').release(), (e: Error) => e instanceof LockUsageError && /released by CPU 1, which does not hold it \(CPU 0 holds it\)/.test(e.message));
  assert.throws(() => m.acquire(), LockUsageError);
  assert.equal(other.mutex('m').tryAcquire(), false);
  m.release();
  assert.equal(other.mutex('m').tryAcquire(), true);
  other.mutex('m').release();
  const stats = sync.lockStats(m.index);
  assert.equal(stats.acquisitions, 2);
  assert.equal(stats.held, false);
  assert.equal(stats.ownerCpu, null);
  sync.validate();
});

test('a spinlock holds its owner in the word; a lock held by an offlined CPU is recovered with a diagnosis', () => {
  const { kernel, sync } = boot();
  const dead = SyncDomain.attach(kernel, sync.paddr, 2);
  dead.spinlock('zone').acquire();
  dead.mutex('depot').acquire();
  assert.equal(sync.spinlock('zone').tryAcquire(), false);
  const report = sync.offlineCpu(2);
  assert.deepEqual(report.recovered.map((r) => [r.lock, r.kind, r.cpu]), [['zone', 'spin', 2], ['depot', 'mutex', 2]]);
  assert.match(report.recovered[0]?.diagnosis ?? '', /spin 'zone' was held by CPU 2 when it went offline: released by CPU 0/);
  assert.equal(sync.spinlock('zone').tryAcquire(), true);
  assert.equal(sync.mutex('depot').tryAcquire(), true);
  const stats = sync.lockStats(sync.findLock('zone'));
  assert.equal(stats.recoveries, 1);
  assert.equal(stats.lastDeadOwnerCpu, 2);
  sync.spinlock('zone').release();
  sync.mutex('depot').release();
  assert.equal(sync.offlineCpu(2).recovered.length, 0, 'nothing left to recover');
  sync.validate();
});

test('a lock is one kind in every worker; names are bounded', () => {
  const { sync } = boot();
  sync.mutex('x');
  const other = SyncDomain.attach(sync.kernel, sync.paddr, 1);
  assert.throws(() => other.spinlock('x'), /exists as a mutex/);
  assert.throws(() => sync.mutex(''), /lock name/);
});

for (const flavour of ['qsbr', 'epoch'] as const) {
  test(`${flavour}: kfreeRcu batches objects in page blocks and frees them only after the grace period`, async () => {
    const { kernel, sync } = boot();
    const rcu = new Rcu(sync, flavour);
    const freeBefore = kernel.pages.freePagesTotal;
    const objects = Array.from({ length: KFREE_BLOCK_SLOTS + 10 }, () => kernel.kmalloc(64) as number);
    for (const addr of objects) rcu.kfreeRcu(addr);
    const pending = rcu.stats().kfreePending;
    assert.equal(pending.objects, objects.length);
    sync.validate();
    const countWord = sync.cpuWord(sync.cpu, (flavour === 'qsbr' ? CPU_KFREE_QSBR : CPU_KFREE_EPOCH) + KC_OBJECTS);
    sync.w[countWord] = (sync.w[countWord] as number) + 1;
    assert.throws(() => sync.validate(), /kfree_rcu chain holds 1030 entries, its count says 1031/);
    sync.w[countWord] = (sync.w[countWord] as number) - 1;
    assert.equal(pending.bytes, objects.length * 64);
    assert.equal(kernel.slab.stats().caches.find((c) => c.name === 'kmalloc-64')?.inUse, objects.length, 'nothing freed yet');
    await rcu.drain();
    assert.equal(rcu.stats().kfreePending.objects, 0);
    assert.equal(rcu.stats().kfreeFreed, objects.length);
    assert.equal(kernel.slab.stats().caches.find((c) => c.name === 'kmalloc-64')?.inUse, 0);
    kernel.slab.shrink();
    assert.ok(kernel.pages.freePagesTotal >= freeBefore - 1, 'block pages returned');
    sync.validate();
  });

  test(`${flavour}: a reader on another CPU holds the grace period up, raises a stall warning naming it, and offlining it ends the wait`, async () => {
    const { kernel, sync } = boot();
    sync.stallTimeoutMs = 20;
    const stalls: RcuStall[] = [];
    const rcu = new Rcu(sync, flavour, { onStall: (s) => stalls.push(s) });
    const readerCpu = SyncDomain.attach(kernel, sync.paddr, 3);
    const reader = new Rcu(readerCpu, flavour);
    reader.readLock();
    const addr = kernel.kmalloc(128) as number;
    rcu.kfreeRcu(addr);
    let done = false;
    const gp = rcu.synchronize(10_000).then(() => (done = true));
    await new Promise((r) => setTimeout(r, 60));
    rcu.poll();
    assert.equal(done, false, 'the reader inside its section holds the grace period');
    assert.equal(rcu.stats().kfreePending.objects, 1);
    assert.ok(stalls.length >= 1);
    assert.deepEqual(stalls[0]?.cpus, [3]);
    assert.match(stalls[0]?.message ?? '', new RegExp(`rcu_${flavour} detected stalls on CPUs/tasks: \\{ 3 \\}`));
    sync.offlineCpu(3);
    await gp;
    await rcu.drain();
    assert.equal(rcu.stats().kfreePending.objects, 0);
    sync.validate();
  });

  test(`${flavour}: callRcu runs after the grace period, in order, and never inside a read section of this CPU`, async () => {
    const { sync } = boot();
    const rcu = new Rcu(sync, flavour);
    const ran: number[] = [];
    rcu.callRcu(() => ran.push(1));
    rcu.callRcu(() => ran.push(2));
    await rcu.drain();
    assert.deepEqual(ran, [1, 2]);
    rcu.readLock();
    assert.throws(() => rcu.quiescentState(), /inside a read section/);
    rcu.readUnlock();
    assert.throws(() => rcu.readUnlock(), /without a matching rcuReadLock/);
  });

  test(`${flavour}: read sections nest: only the outermost unlock ends the section (and, for epoch, unpins)`, () => {
    const { sync } = boot();
    const rcu = new Rcu(sync, flavour);
    const word = sync.cpuWord(sync.cpu, CPU_EPOCH);
    for (let round = 0; round < 2; round++) {
      rcu.readLock();
      rcu.readLock();
      rcu.readLock();
      assert.equal(rcu.flavour.nesting, 3);
      rcu.readUnlock();
      rcu.readUnlock();
      assert.equal(rcu.flavour.nesting, 1);
      assert.throws(() => rcu.quiescentState(), /inside a read section \(nesting 1\)/);
      if (flavour === 'epoch') assert.equal(Atomics.load(sync.w, word) & 1, 1, 'still pinned inside the outer section');
      rcu.readUnlock();
      assert.equal(rcu.flavour.nesting, 0);
      if (flavour === 'epoch') assert.equal(Atomics.load(sync.w, word), 0, 'unpinned after the outermost unlock');
      rcu.quiescentState();
    }
    assert.throws(() => rcu.readUnlock(), /without a matching rcuReadLock/);
    assert.equal(rcu.flavour.nesting, 0, 'an unbalanced unlock changes nothing');
  });
}

test('epoch: a reader pinned at its stale copy of the epoch holds the advance up and is asked to refresh; its next pin is at the current epoch', () => {
  const { kernel, sync } = boot();
  const rcu = new Rcu(sync, 'epoch');
  const reader = new Rcu(SyncDomain.attach(kernel, sync.paddr, 3), 'epoch');
  const word = sync.cpuWord(3, CPU_EPOCH);
  const cookie = rcu.flavour.startGp();
  reader.readLock();
  assert.equal(Atomics.load(sync.w, word), (1 << 1) | 1, 'pinned at epoch 1, its copy since it went online');
  assert.equal(rcu.flavour.gpDone(cookie), false, 'the epoch advances to 2 but not past the reader pinned at 1');
  assert.equal(rcu.flavour.counter, 2);
  assert.deepEqual(rcu.flavour.holders(cookie), [3]);
  assert.equal(Atomics.load(sync.w, word), (1 << 31) | (1 << 1) | 1, 'REFRESH set in the pinned word, the epoch in it untouched');
  reader.readUnlock();
  assert.equal(Atomics.load(sync.w, word), 0);
  reader.readLock();
  assert.equal(Atomics.load(sync.w, word), (2 << 1) | 1, 'the unpin saw REFRESH: the next pin is at epoch 2');
  assert.equal(rcu.flavour.gpDone(cookie), true, 'a reader pinned at the current epoch lets it advance');
  reader.readUnlock();
  sync.w[sync.base + S_EPOCH] = EPOCH_MAX;
  assert.throws(() => rcu.flavour.gpDone(EPOCH_MAX + 2), (e: Error) => e instanceof RcuUsageError && /expected below 1073741823/.test(e.message));
});

test('a kfree_rcu chain of a CPU that goes offline is adopted and freed by the CPU that offlines it', async () => {
  const { kernel, sync } = boot();
  const rcu = new Rcu(sync, 'epoch');
  const goneDomain = SyncDomain.attach(kernel, sync.paddr, 1);
  const gone = new Rcu(goneDomain, 'epoch');
  for (let i = 0; i < 5; i++) gone.kfreeRcu(kernel.kmalloc(32) as number);
  const report = sync.offlineCpu(1);
  assert.equal(report.kfreeAdopted, 5);
  await rcu.drain();
  assert.equal(rcu.stats().kfreeFreed, 5);
  sync.validate();
});

test('freePagesRcu (what a SLAB_TYPESAFE_BY_RCU cache does with an empty slab): the pages go back to the buddy allocator only after the grace period', async () => {
  const { kernel, sync } = boot();
  const rcu = new Rcu(sync, 'qsbr');
  const reader = new Rcu(SyncDomain.attach(kernel, sync.paddr, 3), 'qsbr');
  reader.readLock();
  const pfn = kernel.pages.allocPages(1) as number;
  rcu.kfreeRcu(kernel.kmalloc(64) as number);
  rcu.freePagesRcu(pfn, 1);
  rcu.poll();
  assert.deepEqual(kernel.pages.findAllocatedBlock(pfn), { pfn, order: 1 }, 'still allocated while a reader may look');
  assert.deepEqual(rcu.stats().kfreePending, { objects: 2, bytes: 64 + 8192 });
  reader.readUnlock();
  reader.quiescentState();
  await rcu.drain();
  assert.equal(kernel.pages.findAllocatedBlock(pfn), null, 'given back after the grace period');
  assert.equal(rcu.stats().kfreePending.objects, 0);
  assert.throws(() => rcu.freePagesRcu(-1, 0), /expected a pfn/);
  kernel.validate();
});

test('SLAB_TYPESAFE_BY_RCU: an object is reused at once, but an empty slab goes back to the buddy allocator only after a grace period', async () => {
  const { kernel, sync } = boot();
  const cache = kernel.createCache('typesafe', 256, { flags: SlabFlag.TYPESAFE_BY_RCU });
  const objects = Array.from({ length: 16 }, () => cache.alloc() as number);
  const slabPfn = objects[0]! >>> 12;
  cache.free(objects[15]!);
  assert.equal(cache.alloc(), objects[15], 'the freed object is handed out again at once');
  for (const addr of objects) cache.free(addr);
  assert.equal(cache.shrink(), 0, 'without an RCU serving the cache in this worker, its empty slabs stay');
  const rcu = new Rcu(sync, 'epoch');
  rcu.serveTypesafeSlabs();
  const reader = new Rcu(SyncDomain.attach(kernel, sync.paddr, 3), 'epoch');
  reader.readLock();
  assert.ok(cache.shrink() > 0, 'the slab leaves the cache');
  rcu.poll();
  assert.notEqual(kernel.pages.findAllocatedBlock(slabPfn), null, 'but its pages wait while a reader may still look at an object in them');
  assert.ok(rcu.stats().kfreePending.bytes >= 4096);
  reader.readUnlock();
  await rcu.drain();
  assert.equal(kernel.pages.findAllocatedBlock(slabPfn), null, 'given back after the grace period');
  kernel.validate();
});
