// The direction of each effect the lock-memory and rcu scenarios show (the scenarios' own smoke
// runs are in scenarios.test.ts): per-waiter records cost kernel memory, records on the stack do
// not; a spinlock never sleeps; a stalled reader makes memory pile up and names itself in a stall
// warning.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ContenderPool, runLockContention } from '../../src/lab/workloads/lock-run.ts';
import { ReaderPool, runRcuExperiment } from '../../src/lab/workloads/rcu-run.ts';
import { NODE_BYTES } from '../../src/lab/workloads/rcu-table.ts';
import { kmallocClassBytes } from '../../src/mm/slab/kmalloc.ts';
import { findScenario } from '../../src/lab/registry.ts';
import { runScenario } from '../../src/lab/run.ts';
import { SPIN_TRIES } from '../../src/sync/mutex.ts';

test('lock-memory: sleeping waiters hold futex_q objects only with slab placement; a spinlock spins and never sleeps', async () => {
  const options = { workers: 4, durationMs: 300, csLoads: 4000, outsideLoads: 100 };
  const slab = await runLockContention({ ...options, kind: 'mutex', placement: 'slab' });
  const stack = await runLockContention({ ...options, kind: 'mutex', placement: 'stack' });
  const spin = await runLockContention({ ...options, kind: 'spin', placement: 'stack' });
  assert.ok(slab.stats.sleepersMax > 0 && stack.stats.sleepersMax > 0, 'with a long critical section, mutex waiters slept');
  assert.ok(slab.waiterBytesPeak > 0, 'per-waiter records took kernel memory');
  assert.ok(slab.futexQSlabBytes > 0, 'the futex_q cache grew slab pages');
  assert.equal(stack.waiterBytesPeak, 0);
  assert.equal(stack.futexQSlabBytes, 0, 'records on the stack allocate nothing');
  assert.equal(spin.stats.sleeps, 0);
  assert.ok(spin.stats.spins > 0 && spin.stats.waitMs > 0, 'spinlock waiters burnt CPU');
  assert.ok(slab.stats.sleepMs > 0, 'mutex waiters spent their wait asleep');
});

test("lock-memory: a spinlock's spinning grows with the contending workers; a mutex's stays bounded by its spin phase, it sleeps instead", async () => {
  // Counts, not wall time, so that a loaded 2-core host changes the figures but not the verdict: a
  // fixed number of acquisitions per worker, each holding the lock for a long critical section
  // (100k loads, tens of µs), so that every waiting worker has a lot to wait for.
  const options = { iterations: 100, durationMs: 0, csLoads: 100_000, outsideLoads: 0, placement: 'stack' as const };
  const spinsPerAcquisition = (r: { stats: { spins: number; acquisitions: number } }) => r.stats.spins / r.stats.acquisitions;
  const spin: Record<number, Awaited<ReturnType<typeof runLockContention>>> = {};
  const mutex: Record<number, Awaited<ReturnType<typeof runLockContention>>> = {};
  for (const workers of [1, 2, 4]) {
    spin[workers] = await runLockContention({ ...options, kind: 'spin', workers });
    mutex[workers] = await runLockContention({ ...options, kind: 'mutex', workers });
  }
  const figures = [1, 2, 4].map((n) => `${n} workers: spinlock ${spin[n]?.stats.spins} spins, mutex ${mutex[n]?.stats.spins} spins / ${mutex[n]?.stats.sleeps} sleeps`).join('; ');
  for (const n of [1, 2, 4]) {
    assert.equal(spin[n]?.stats.acquisitions, 100 * n, figures);
    assert.equal(mutex[n]?.stats.acquisitions, 100 * n, figures);
    assert.equal(spin[n]?.stats.sleeps, 0, 'a spinlock never sleeps');
  }
  // Alone, nobody waits: no spinning at all, with either lock.
  assert.equal(spin[1]?.stats.spins, 0, figures);
  assert.equal(mutex[1]?.stats.spins, 0, figures);
  // The spinlock: every added waiter burns its CPU for as long as the others hold the lock, so
  // the spins grow with the workers (each run does the same work per worker).
  const spin2 = spin[2]?.stats.spins ?? 0;
  const spin4 = spin[4]?.stats.spins ?? 0;
  assert.ok(spin2 > 0 && spin4 > spin2, `spinlock spins grow with the workers: ${figures}`);
  // The mutex: a waiter spins at most SPIN_TRIES loads per contended acquisition, then sleeps,
  // however many workers contend: its CPU waste per acquisition is bounded.
  for (const n of [2, 4]) {
    const m = mutex[n]?.stats;
    assert.ok(m !== undefined && m.spins <= SPIN_TRIES * m.contended, `mutex spins bounded by ${SPIN_TRIES} per contended acquisition: ${figures}`);
    assert.ok(m.sleeps > 0, `mutex waiters slept: ${figures}`);
  }
  // Orders of magnitude apart with 4 workers: the spinlock's waste per acquisition is at least 10×
  // the mutex's bound (SPIN_TRIES loads per acquisition).
  const spinPer4 = spinsPerAcquisition(spin[4] as { stats: { spins: number; acquisitions: number } });
  const mutexPer4 = spinsPerAcquisition(mutex[4] as { stats: { spins: number; acquisitions: number } });
  assert.ok(mutexPer4 <= SPIN_TRIES && spinPer4 >= 10 * SPIN_TRIES, `spins per acquisition with 4 workers: spinlock ${spinPer4.toFixed(0)}, mutex ${mutexPer4.toFixed(1)}`);
});

test('a contender pool serves run after run from the same worker threads, each run on its own kernel, mutual exclusion kept', async () => {
  const pool = new ContenderPool();
  try {
    const threads: number[][] = [];
    for (const [kind, placement, workers] of [['mutex', 'slab', 2], ['spin', 'stack', 3], ['mutex', 'stack', 3]] as const) {
      const run = await runLockContention({ kind, placement, workers, durationMs: 0, iterations: 2_000, csLoads: 20, outsideLoads: 20 }, pool);
      assert.deepEqual(run.reports.map((r) => r.violations), Array(workers).fill(0));
      assert.equal(run.counter, workers * 2_000, 'a plain read-increment-write inside the lock lost an update');
      assert.equal(run.stats.acquisitions, workers * 2_000);
      assert.equal(run.stats.held, false);
      threads.push(pool.servers(workers).map((s) => s.worker.threadId));
    }
    assert.deepEqual(threads[1]?.slice(0, 2), threads[0], 'the first two workers served the second run too');
    assert.deepEqual(threads[2], threads[1], 'no worker was started for the third run');
  } finally {
    await pool.close();
  }
});

test('a reader pool serves experiment after experiment from the same threads: no use after free, grace periods complete', async () => {
  const pool = new ReaderPool();
  try {
    const threads: number[][] = [];
    for (const mode of ['qsbr', 'epoch', 'qsbr'] as const) {
      const run = await runRcuExperiment({ mode, readers: 2, updates: 5_000, seed: 3, buckets: 16, stallTimeoutMs: 5_000 }, pool);
      assert.equal(run.poisonHits + run.reusedHits, 0, `${mode}: a reader reached a freed node`);
      assert.ok(run.reads > 0, `${mode}: the readers read`);
      assert.equal(run.freed, 5_000, `${mode}: every replaced node was freed after its grace period`);
      threads.push(pool.servers(2).map((s) => s.worker.threadId));
    }
    assert.deepEqual(threads[1], threads[0]);
    assert.deepEqual(threads[2], threads[0]);
  } finally {
    await pool.close();
  }
});

for (const mode of ['qsbr', 'epoch'] as const) {
  test(`rcu (${mode}): a reader stalled inside its read section makes memory pile up and is named by the stall warning`, async () => {
    const base = { mode, readers: 2, updates: 60_000, seed: 5, buckets: 16, stallTimeoutMs: 50 };
    const calm = await runRcuExperiment(base);
    const stalled = await runRcuExperiment({ ...base, stall: { afterReads: 50, ms: 60_000 } });
    // Piled up: most of what the run retired (each node one kmalloc object) waited at once behind the
    // stalled reader, and more than ever waited in the calm run. (Not "twice the calm run": on a
    // loaded machine the calm run's grace periods lag too, and its peak grows towards the total.)
    const retiredBytes = base.updates * kmallocClassBytes(NODE_BYTES);
    assert.ok(stalled.pendingPeakBytes >= 0.75 * retiredBytes, `peak waiting while stalled: ${stalled.pendingPeakBytes} B of ${retiredBytes} B retired`);
    assert.ok(stalled.pendingPeakBytes > calm.pendingPeakBytes, `peak waiting: stalled ${stalled.pendingPeakBytes} B vs ${calm.pendingPeakBytes} B`);
    const stalledCpu = stalled.readers[0]?.cpu;
    assert.ok(stalled.stalls.length > 0, 'a stall warning fired');
    assert.ok(stalled.stalls.every((s) => s.cpus.includes(stalledCpu as number)), `the warnings name CPU ${stalledCpu}: ${stalled.stalls[0]?.message}`);
    assert.equal(stalled.poisonHits + stalled.reusedHits, 0);
  });
}

test('rcu --smoke: the summary says "not run" for the epoch run it leaves out, not a figure of 0 B', async () => {
  const { result } = await runScenario(findScenario('rcu'), {}, { seed: 3, smoke: true });
  const line = result.summary.find((s) => s.startsWith('Peak memory waiting')) ?? '';
  assert.match(line, /^Peak memory waiting for a grace period: QSBR \d+ B, epoch not run; with one reader stalled \d+ ms: QSBR \d+ B, epoch \d+ B\.$/);
});
