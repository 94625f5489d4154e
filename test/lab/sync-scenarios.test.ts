// The direction of each effect the lock-memory and rcu scenarios show (the scenarios' own smoke
// runs are in scenarios.test.ts): per-waiter records cost kernel memory, records on the stack do
// not; a spinlock never sleeps; a stalled reader makes memory pile up and names itself in a stall
// warning.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ContenderPool, runLockContention } from '../../src/lab/workloads/lock-run.ts';
import { ReaderPool, runRcuExperiment } from '../../src/lab/workloads/rcu-run.ts';
import { findScenario } from '../../src/lab/registry.ts';
import { runScenario } from '../../src/lab/run.ts';

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
    assert.ok(stalled.pendingPeakBytes > 2 * calm.pendingPeakBytes, `peak waiting: stalled ${stalled.pendingPeakBytes} B vs ${calm.pendingPeakBytes} B`);
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
