// Locks and RCU across worker threads over one shared arena: mutual exclusion under 4 workers,
// a lock held by a terminated worker recovered, RCU stress with 2 reader workers for both flavours
// (no use after free) against immediate free (uses after free caught by slab poisoning), and a
// reader terminated inside its read section offlined so that the grace period completes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Kernel } from '../../src/mm/kernel.ts';
import { SyncDomain } from '../../src/sync/domain.ts';
import type { OfflineReport } from '../../src/sync/domain.ts';
import { Rcu } from '../../src/sync/rcu.ts';
import { startLabWorker, waitForWord } from '../../src/lab/worker-thread.ts';
import { runLockContention } from '../../src/lab/workloads/lock-run.ts';
import { runRcuExperiment } from '../../src/lab/workloads/rcu-run.ts';
import type { LockContenderInput, LockContenderReport } from '../../src/lab/workloads/lock-contender.ts';
import type { RcuReaderInput, RcuReaderReport } from '../../src/lab/workloads/rcu-reader.ts';
import { RcuTable } from '../../src/lab/workloads/rcu-table.ts';
import { Ctl, cpuOf, newControl, offlineWorker } from '../../src/lab/workloads/sync-control.ts';

const CONTENDER = new URL('../../src/lab/workloads/lock-contender.ts', import.meta.url);
const READER = new URL('../../src/lab/workloads/rcu-reader.ts', import.meta.url);
/** Updates in the suite's stress runs; `npm run fuzz` runs 1 M. */
const UPDATES = 100_000;

for (const [kind, placement] of [['spin', 'stack'], ['mutex', 'stack'], ['mutex', 'slab']] as const) {
  test(`${kind} (${placement} waiters): mutual exclusion under 4 workers — the counter loses no update, no stamp is overwritten`, async () => {
    const iterations = 5_000;
    const run = await runLockContention({ kind, placement, workers: 4, durationMs: 0, iterations, csLoads: 20, outsideLoads: 20 });
    assert.deepEqual(run.reports.map((r) => r.violations), [0, 0, 0, 0], 'a stamp changed inside the critical section');
    assert.equal(run.counter, 4 * iterations, 'a plain read-increment-write inside the lock lost an update');
    assert.equal(run.stats.acquisitions, 4 * iterations, 'the arena statistics count every acquisition');
    assert.ok(run.fairness > 0 && run.fairness <= 1);
    assert.equal(run.stats.held, false);
    assert.equal(run.stats.sleepersNow, 0);
    if (kind === 'spin') assert.equal(run.stats.sleeps, 0, 'a spinlock never sleeps');
    if (placement === 'stack') assert.equal(run.waiterBytesPeak, 0);
  });
}

test('a mutex held by a terminated worker is recovered when its CPU is offlined: a sleeping waiter gets it, with a diagnosis', async () => {
  const kernel = Kernel.boot({ ramBytes: '16MiB', shared: true, cpus: 4 });
  const sync = SyncDomain.create(kernel);
  sync.mutex('zone', 'slab');
  const control = newControl();
  const base: Omit<LockContenderInput, 'index' | 'mode' | 'iterations'> = {
    buffer: kernel.buffer as SharedArrayBuffer, syncPaddr: sync.paddr, lock: 'zone', kind: 'mutex', placement: 'slab',
    control: control.buffer as SharedArrayBuffer, csLoads: 0, outsideLoads: 0,
  };
  const reports: OfflineReport[] = [];
  const holder = startLabWorker<LockContenderReport>(CONTENDER, { ...base, index: 0, mode: 'die', iterations: 0 }, () => {
    offlineWorker(kernel, control, 0);
    if (sync.lastOffline !== null) reports.push(sync.lastOffline);
  });
  await waitForWord(control, Ctl.PARKED, 1);
  const dead = cpuOf(control, 0);
  const waiter = startLabWorker<LockContenderReport>(CONTENDER, { ...base, index: 1, mode: 'contend', iterations: 1 });
  await waitForWord(control, Ctl.READY, 1);
  Atomics.store(control, Ctl.GO, 1);
  Atomics.notify(control, Ctl.GO);
  const mine = sync.mutex('zone').acquireAsync().then(() => sync.mutex('zone').release());
  while (sync.lockStats(sync.findLock('zone')).sleepersNow < 1) await new Promise((r) => setTimeout(r, 1));
  assert.equal(sync.lockStats(sync.findLock('zone')).ownerCpu, dead);
  await holder.worker.terminate();
  await assert.rejects(holder.report);
  const done = await waiter.report;
  await mine;
  assert.equal(done.acquisitions, 1);
  assert.equal(reports.length, 1);
  assert.equal(reports[0]?.recovered.length, 1);
  assert.match(reports[0]?.recovered[0]?.diagnosis ?? '', new RegExp(`mutex 'zone' was held by CPU ${dead} when it went offline: released by CPU ${sync.cpu}`));
  const stats = sync.lockStats(sync.findLock('zone'));
  assert.equal(stats.recoveries, 1);
  assert.equal(stats.lastDeadOwnerCpu, dead);
  assert.equal(kernel.slab.stats().caches.find((c) => c.name === 'futex_q')?.inUse, 0, 'every per-waiter record went back to its cache');
  sync.validate();
});

for (const mode of ['qsbr', 'epoch'] as const) {
  test(`${mode}: ${UPDATES} updates with 2 reader workers — no reader ever reaches a freed node, every retired node is freed`, async () => {
    const run = await runRcuExperiment({ mode, readers: 2, updates: UPDATES, seed: 11, buckets: 16 });
    assert.ok(run.reads > 1000, `the readers read (${run.reads})`);
    assert.equal(run.poisonHits, 0, 'a reader found slab poison: a node was freed under it');
    assert.equal(run.reusedHits, 0, 'a reader found a reused node');
    assert.equal(run.freed, UPDATES);
    assert.ok(run.pendingPeakBytes > 0, 'memory did wait for grace periods');
  });
}

test(`immediate free: the same run without RCU is caught by slab poisoning (uses after free counted)`, async () => {
  const run = await runRcuExperiment({ mode: 'immediate', readers: 2, updates: UPDATES, seed: 11, buckets: 16 });
  assert.ok(run.poisonHits > 0, `readers found poisoned (freed) nodes: ${run.poisonHits} poison, ${run.reusedHits} reused`);
});

for (const flavour of ['qsbr', 'epoch'] as const) {
  test(`${flavour}: a reader worker terminated inside its read section is offlined and the grace period completes`, async () => {
    const kernel = Kernel.boot({ ramBytes: '16MiB', shared: true, cpus: 3 });
    const sync = SyncDomain.create(kernel, { stallTimeoutMs: 30 });
    const rcu = new Rcu(sync, flavour);
    const table = RcuTable.create(kernel, 4, 2);
    const control = newControl();
    const input: RcuReaderInput = {
      buffer: kernel.buffer as SharedArrayBuffer, syncPaddr: sync.paddr, index: 0, flavour, heads: table.headsPaddr, buckets: 4, chain: 2,
      control: control.buffer as SharedArrayBuffer, seed: 1, mode: 'die', stallAfterReads: 10, useLoads: 0,
    };
    const reader = startLabWorker<RcuReaderReport>(READER, input, () => offlineWorker(kernel, control, 0));
    await waitForWord(control, Ctl.READY, 1);
    Atomics.store(control, Ctl.GO, 1);
    Atomics.notify(control, Ctl.GO);
    await waitForWord(control, Ctl.PARKED, 1);
    const cpu = cpuOf(control, 0);
    await assert.rejects(rcu.synchronize(80), new RegExp(`still waits after 80 ms on CPUs \\{ ${cpu} \\}`));
    assert.deepEqual(rcu.stallWarnings()[0]?.cpus, [cpu]);
    await reader.worker.terminate();
    await assert.rejects(reader.report);
    await rcu.synchronize(5_000);
    assert.deepEqual(sync.stats().offline, [cpu]);
    sync.validate();
  });
}
