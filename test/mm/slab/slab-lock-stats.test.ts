// The slab locks (the table lock, each cache's depot and slab-list locks) count their acquisitions
// and contention in the arena (region 'slab.lockstat'), so every worker's figures add up in one
// place; SlabAllocator.lockStats() and SyncDomain.stats().kernelLocks list them by name, and
// validate() checks each record.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Kernel } from '../../../src/mm/kernel.ts';
import { SlabFlag } from '../../../src/mm/slab/layout.ts';
import { slabLockStatRecord } from '../../../src/mm/slab/types.ts';
import { SyncDomain } from '../../../src/sync/domain.ts';
import type { LockStatValues } from '../../../src/sync/lock-stats.ts';
import { LOCK_STAT_COUNT, LockStat } from '../../../src/sync/types.ts';
import { InvariantError } from '../../../src/util/errors.ts';
import { runTsWorker } from '../../helpers/worker.ts';

function lockOf(kernel: Kernel, name: string): LockStatValues {
  const row = kernel.slab.lockStats().find((l) => l.name === name);
  assert.ok(row, `lock '${name}' is listed`);
  return row;
}

for (const shared of [false, true]) {
  test(`a slow-only cache takes its slab-list lock once per alloc and per free, uncontended, counted in 'slab.lockstat' (shared ${shared})`, () => {
    const kernel = Kernel.boot({ ramBytes: '16MiB', shared });
    const cache = kernel.createCache('lockstat64', 64, { flags: SlabFlag.POISON });
    // Fill one slab first, so that no slab creation (which drops and retakes the lock) falls inside.
    const warm = cache.alloc() as number;
    const before = lockOf(kernel, 'slab lockstat64 slab list');
    const addrs: number[] = [];
    for (let i = 0; i < 20; i++) addrs.push(cache.alloc() as number);
    for (const addr of addrs) cache.free(addr);
    const after = lockOf(kernel, 'slab lockstat64 slab list');
    assert.ok(cache.stat('slabsCreated') >= 1);
    assert.equal(after.acquisitions - before.acquisitions, 40);
    assert.equal(after.contended, 0);
    assert.equal(after.spins + after.sleeps + after.waitMs, 0);
    // The same figures are in the arena record the region holds, where any worker reads them.
    const region = kernel.header.requireRegion('slab.lockstat');
    const f64 = kernel.ram.f64(region.paddr, region.sizeBytes / 8);
    const at = slabLockStatRecord('slab', cache.index) * LOCK_STAT_COUNT;
    assert.equal(f64[at + LockStat.acquisitions], after.acquisitions);
    // The table lock counted the cache's creation; the depot lock of a slow-only cache is never taken.
    assert.ok(lockOf(kernel, 'slab table').acquisitions >= 1);
    assert.equal(lockOf(kernel, 'slab lockstat64 depot').acquisitions, 0);
    cache.free(warm);
    kernel.validate();
  });
}

test('a slot given to a new cache starts with zeroed lock records; the names follow the cache', () => {
  const kernel = Kernel.boot({ ramBytes: '16MiB' });
  const first = kernel.createCache('first32', 32, { flags: SlabFlag.RED_ZONE });
  for (let i = 0; i < 10; i++) first.free(first.alloc() as number);
  assert.ok(lockOf(kernel, 'slab first32 slab list').acquisitions >= 20);
  const index = first.index;
  kernel.slab.destroyCache(first);
  assert.equal(kernel.slab.lockStats().find((l) => l.name.startsWith('slab first32')), undefined);
  const second = kernel.createCache('second32', 32, { flags: SlabFlag.RED_ZONE });
  assert.equal(second.index, index, 'the freed slot is reused');
  const { name, ...fresh } = lockOf(kernel, 'slab second32 slab list') as LockStatValues & { name: string };
  assert.equal(name, 'slab second32 slab list');
  assert.deepEqual(fresh, { acquisitions: 0, contended: 0, spins: 0, sleeps: 0, waitMs: 0, waitMsMax: 0, sleepMs: 0 });
  kernel.validate();
});

test('validate() rejects a slab-lock record that breaks its invariants, naming the lock', () => {
  const kernel = Kernel.boot({ ramBytes: '16MiB' });
  const cache = kernel.createCache('broken16', 16, { flags: SlabFlag.POISON });
  cache.free(cache.alloc() as number);
  const region = kernel.header.requireRegion('slab.lockstat');
  const f64 = kernel.ram.f64(region.paddr, region.sizeBytes / 8);
  const at = slabLockStatRecord('slab', cache.index) * LOCK_STAT_COUNT;
  f64[at + LockStat.spins] = 3;
  assert.throws(() => kernel.validate(), (e: unknown) => e instanceof InvariantError && /lock 'slab broken16 slab list': 3 spins and 0 sleeps with no contended acquisition/.test(e.message));
  f64[at + LockStat.spins] = 0;
  f64[slabLockStatRecord('table') * LOCK_STAT_COUNT + LockStat.waitMs] = -1;
  assert.throws(() => kernel.validate(), /lock 'slab table': waitMs = -1/);
  f64[slabLockStatRecord('table') * LOCK_STAT_COUNT + LockStat.waitMs] = 0;
  kernel.validate();
});

test("two workers allocating from one slow-only cache contend on its slab-list lock: the cache's arena record shows it", async () => {
  const kernel = Kernel.boot({ ramBytes: '64MiB', shared: true, cpus: 3 });
  kernel.createCache('contend128', 128, { flags: SlabFlag.POISON });
  const barrier = new SharedArrayBuffer(4);
  const workers = 2;
  const reports = await Promise.all(
    Array.from({ length: workers }, () =>
      runTsWorker<{ pairs: number }>(new URL('./slab-lock-worker.ts', import.meta.url), { buffer: kernel.buffer, barrier, workers, cacheName: 'contend128', limitMs: 20_000 }),
    ),
  );
  const lock = lockOf(kernel, 'slab contend128 slab list');
  assert.ok(lock.contended > 0, `expected contended acquisitions, got ${JSON.stringify(lock)} after ${JSON.stringify(reports)}`);
  // Both workers' acquisitions add up in the one record: at least one alloc and one free per pair.
  const pairs = reports.reduce((sum, r) => sum + r.pairs, 0);
  assert.ok(lock.acquisitions >= 2 * pairs, `expected ≥ ${2 * pairs} acquisitions, got ${lock.acquisitions}`);
  assert.ok(lock.waitMsMax > 0 && lock.waitMsMax <= lock.waitMs);
  kernel.validate();
  const sync = SyncDomain.create(kernel, { cpu: 0 });
  const listed = sync.stats().kernelLocks;
  const row = listed.find((l) => l.name === 'slab contend128 slab list');
  assert.ok(row, `listed by the sync domain: ${listed.map((l) => l.name).join(', ')}`);
  assert.ok(row.contended >= lock.contended);
  assert.ok(listed.some((l) => l.name === 'slab table') && listed.some((l) => l.name === 'zone Normal'));
  // The /proc/lock_stat-like text: the lock's line carries its contentions and acquisitions.
  const line = sync.lockStatText().split('\n').find((l) => l.trim().startsWith('slab contend128 slab list:'));
  assert.ok(line, 'the lock has a line in lockStatText()');
  const cols = line.trim().split(/\s+/);
  assert.equal(Number(cols[4]), row.contended);
  assert.equal(Number(cols[8]), row.acquisitions);
});
