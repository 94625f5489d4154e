// The zone locks count their acquisitions in the arena (region 'zones.lockstat'), so the figures of
// every worker add up in one place and show in kernel.stats(), the sync domain's stats() and
// validate().
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Kernel } from '../../src/mm/kernel.ts';
import { GFP } from '../../src/mm/gfp.ts';
import { SyncDomain } from '../../src/sync/domain.ts';
import type { LockStatValues } from '../../src/sync/lock-stats.ts';
import { LOCK_STAT_COUNT, LockStat } from '../../src/sync/types.ts';
import { InvariantError } from '../../src/util/errors.ts';
import { runTsWorker } from '../helpers/worker.ts';

function normalLock(kernel: Kernel): LockStatValues {
  const zone = kernel.stats().pages.zones.find((z) => z.name === 'Normal');
  assert.ok(zone?.lock, 'the Normal zone reports its lock statistics');
  return zone.lock;
}

for (const shared of [false, true]) {
  test(`single-threaded order-1 allocations count one zone-lock acquisition each, none contended (shared ${shared})`, () => {
    const kernel = Kernel.boot({ ramBytes: '64MiB', shared });
    const before = normalLock(kernel);
    const pfns: number[] = [];
    for (let i = 0; i < 100; i++) pfns.push(kernel.pages.allocPages(1, GFP.KERNEL));
    const afterAllocs = normalLock(kernel);
    assert.equal(afterAllocs.acquisitions - before.acquisitions, 100);
    for (const pfn of pfns) kernel.pages.freePages(pfn, 1);
    const after = normalLock(kernel);
    assert.equal(after.acquisitions - afterAllocs.acquisitions, 100);
    assert.equal(after.contended, 0);
    assert.equal(after.spins, 0);
    assert.equal(after.waitMs, 0);
    kernel.validate();
  });
}

test('validate() rejects a zone-lock record that breaks its invariants', () => {
  const kernel = Kernel.boot({ ramBytes: '64MiB' });
  kernel.pages.freePages(kernel.pages.allocPages(1, GFP.KERNEL), 1);
  const region = kernel.header.requireRegion('zones.lockstat');
  const f64 = kernel.ram.f64(region.paddr, 2 * LOCK_STAT_COUNT);
  const normal = LOCK_STAT_COUNT + LockStat.contended;
  const acquisitions = f64[LOCK_STAT_COUNT + LockStat.acquisitions] as number;
  // validate() itself acquires the zone lock once before it checks the record.
  f64[normal] = acquisitions + 2;
  assert.throws(() => kernel.validate(), (e: unknown) => e instanceof InvariantError && /lock 'zone Normal': contended .* > acquisitions/.test(e.message));
  f64[normal] = 0;
  f64[LOCK_STAT_COUNT + LockStat.waitMsMax] = 1;
  assert.throws(() => kernel.validate(), /waitMsMax 1 > waitMs 0/);
  f64[LOCK_STAT_COUNT + LockStat.waitMsMax] = 0;
  kernel.validate();
});

test('two workers allocating order-1 blocks contend on the Normal zone lock: the arena statistics show it, by name', async () => {
  const kernel = Kernel.boot({ ramBytes: '64MiB', shared: true, cpus: 3 });
  const barrier = new SharedArrayBuffer(4);
  const workers = 2;
  await Promise.all(
    Array.from({ length: workers }, () => runTsWorker<{ rounds: number }>(new URL('./zone-lock-worker.ts', import.meta.url), { buffer: kernel.buffer, barrier, workers, limitMs: 20_000 })),
  );
  const lock = normalLock(kernel);
  assert.ok(lock.contended > 0, `expected contended acquisitions, got ${JSON.stringify(lock)}`);
  assert.ok(lock.acquisitions >= 2000, `expected at least one round of 1000 alloc+free pairs, got ${lock.acquisitions}`);
  assert.ok(lock.contended <= lock.acquisitions);
  assert.ok(lock.waitMsMax > 0 && lock.waitMsMax <= lock.waitMs);
  kernel.validate();
  const sync = SyncDomain.create(kernel, { cpu: 0 });
  const listed = sync.stats().kernelLocks.filter((l) => l.name.startsWith('zone '));
  assert.deepEqual(listed.map((l) => l.name), ['zone DMA', 'zone Normal']);
  assert.equal(listed[1]?.contended, normalLock(kernel).contended);
});
