/**
 * lock-memory: what waiting for a lock costs. The seed's sixth system: a blocking mutex keeps
 * bookkeeping in the kernel for every waiter it puts to sleep; a spinlock keeps none but burns its
 * CPU. Here 1 … 8 worker threads (the CPUs) contend for one lock of the sync domain
 * (lab/workloads/lock-run.ts): a spinlock, and a futex mutex whose sleeping waiters' records are
 * on their stack (Linux's futex_q: one fixed record per CPU, nothing allocated) or allocated per wait
 * from the slab cache futex_q (the seed's model). Measured per run: the kernel bytes waiter records
 * took at the peak, the CPU time spent spinning and asleep (from the lock's statistics in the
 * arena), throughput and fairness. All figures depend on how the host schedules the workers.
 */
import { SPIN_TRIES } from '../../sync/mutex.ts';
import { Q_BYTES } from '../../sync/types.ts';
import { defineScenario } from '../scenario.ts';
import type { Plot, Table } from '../scenario.ts';
import type { LockRunResult } from '../workloads/lock-run.ts';

const CONFIGS = [
  { kind: 'spin', placement: 'stack', label: 'spinlock' },
  { kind: 'mutex', placement: 'stack', label: 'mutex, waiters on the stack' },
  { kind: 'mutex', placement: 'slab', label: 'mutex, waiters from a slab cache' },
] as const;

interface Row {
  label: string;
  workers: number;
  run: LockRunResult;
}

export const lockMemory = defineScenario({
  name: 'lock-memory',
  title: 'Lock waiters: kernel memory held vs CPU time burnt',
  question:
    'A blocking mutex keeps kernel bookkeeping for each sleeping waiter, a spinlock keeps none but burns the CPU: as more threads contend, how many kernel bytes do waiters hold, and how much CPU time goes to spinning versus sleeping, for each lock and each place to keep a waiter?',
  wallClock: true,
  params: {
    workers: { kind: 'numbers', default: [1, 2, 4, 8], min: 1, max: 8, description: 'contending worker threads, one run per count' },
    durationMs: { kind: 'int', default: 400, min: 10, max: 60_000, description: 'length of each run, ms' },
    csLoads: { kind: 'int', default: 400, min: 0, max: 1_000_000, description: 'work inside the critical section (shared-memory loads)' },
    outsideLoads: { kind: 'int', default: 400, min: 0, max: 1_000_000, description: 'work between two acquisitions (loads)' },
  },
  smoke: { workers: [2], durationMs: 30 },
  async run(params, ctx) {
    // Worker threads are Node's (node:worker_threads): loaded here, so the registry stays browser-safe.
    const { ContenderPool, runLockContention } = await import('../workloads/lock-run.ts');
    const { workers: counts, durationMs } = params;
    const rows: Row[] = [];
    let done = 0;
    // The runs share their worker threads (a pool): starting a worker costs more than a run lasts.
    const pool = new ContenderPool();
    try {
      for (const config of CONFIGS) {
        for (const workers of counts) {
          const run = await runLockContention({ kind: config.kind, placement: config.placement, workers, durationMs, csLoads: params.csLoads, outsideLoads: params.outsideLoads }, pool);
          rows.push({ label: config.label, workers, run });
          ctx.progress(++done, CONFIGS.length * counts.length, `${config.label}, ${workers} workers`);
        }
      }
    } finally {
      await pool.close();
    }
    const table: Table = {
      id: 'runs',
      title: 'Per lock, waiter placement and number of contending workers',
      scheduling: true,
      columns: [
        { key: 'lock', label: 'lock' },
        { key: 'workers', label: 'workers' },
        { key: 'opsPerMs', label: 'acquisitions', unit: '/ms', digits: 1 },
        { key: 'contendedPct', label: 'contended', unit: '%', digits: 1 },
        { key: 'spinMs', label: 'CPU spinning', unit: 'ms', digits: 1 },
        { key: 'spinsPerAcquisition', label: 'spins per acquisition', unit: 'loads', digits: 1 },
        { key: 'sleepMs', label: 'asleep', unit: 'ms', digits: 1 },
        { key: 'sleeps', label: 'sleeps' },
        { key: 'sleepersMax', label: 'most asleep at once' },
        { key: 'waiterBytes', label: 'waiter records at peak', unit: 'B' },
        { key: 'slabBytes', label: 'futex_q slab pages', unit: 'B' },
        { key: 'fairness', label: 'fairness (min ÷ max)', digits: 2 },
      ],
      rows: rows.map(({ label, workers, run }) => ({
        lock: label,
        workers,
        opsPerMs: run.stats.acquisitions / run.elapsedMs,
        contendedPct: (100 * run.stats.contended) / Math.max(1, run.stats.acquisitions),
        spinMs: run.stats.waitMs - run.stats.sleepMs,
        spinsPerAcquisition: run.stats.spins / Math.max(1, run.stats.acquisitions),
        sleepMs: run.stats.sleepMs,
        sleeps: run.stats.sleeps,
        sleepersMax: run.stats.sleepersMax,
        waiterBytes: run.waiterBytesPeak,
        slabBytes: label.includes('slab') ? run.futexQSlabBytes : 0,
        fairness: run.fairness,
      })),
      note: `Waiter records are ${Q_BYTES} bytes. On the stack, each CPU has one record from boot (${Q_BYTES} B × CPUs), so a wait allocates nothing; from the slab, each sleeping waiter holds one object of futex_q, and the cache keeps its slab pages after the waiters are gone. CPU spinning = wait time not spent asleep; spins per acquisition counts the loads waiters spun (a mutex spins at most ${SPIN_TRIES} per contended acquisition, then sleeps).`,
    };
    const series = (value: (r: LockRunResult) => number) =>
      // One panel per lock (small multiples on shared axes): a spinlock and a stack-placed mutex both hold 0 bytes.
      CONFIGS.map((c) => ({ label: c.label, panel: c.label, points: rows.filter((r) => r.label === c.label).map((r) => [r.workers, value(r.run)] as [number, number]) }));
    const plots: Plot[] = [
      { id: 'waiter-bytes', title: 'Kernel bytes held by sleeping waiters (peak)', kind: 'line', scheduling: true, x: { label: 'contending workers' }, y: { label: 'bytes' }, series: series((r) => r.waiterBytesPeak) },
      { id: 'spin-ms', title: 'CPU time spent spinning', kind: 'line', timing: true, x: { label: 'contending workers' }, y: { label: 'ms' }, series: series((r) => r.stats.waitMs - r.stats.sleepMs) },
      { id: 'sleep-ms', title: 'Time spent asleep (CPU free for others)', kind: 'line', timing: true, x: { label: 'contending workers' }, y: { label: 'ms' }, series: series((r) => r.stats.sleepMs) },
    ];
    const most = Math.max(...counts);
    const at = (label: string) => rows.find((r) => r.label === label && r.workers === most)?.run;
    const spin = at('spinlock');
    const slab = at('mutex, waiters from a slab cache');
    const stack = at('mutex, waiters on the stack');
    return {
      summary: [
        `With ${most} workers the spinlock spent ${((spin?.stats.waitMs ?? 0)).toFixed(1)} ms of CPU spinning and never slept; its waiters hold no kernel memory.`,
        `The mutex with per-waiter records held up to ${slab?.waiterBytesPeak ?? 0} bytes of futex_q objects (${slab?.stats.sleepersMax ?? 0} asleep at once) and kept ${slab?.futexQSlabBytes ?? 0} bytes of slab pages; with records on the stack it allocated nothing (${stack?.stats.sleepersMax ?? 0} asleep at once, ${stack?.stackRecordBytes ?? 0} bytes fixed at boot).`,
        `Sleeping waiters were asleep ${((slab?.stats.sleepMs ?? 0) + (stack?.stats.sleepMs ?? 0)).toFixed(1)} ms in the two mutex runs, time their CPUs were free.`,
      ],
      tables: [table],
      plots,
    };
  },
});
