/**
 * rcu: what deferring a free costs and buys. The seed's seventh system: readers walk a read-mostly
 * hash table in the arena without locks (lab/workloads/rcu-table.ts) from worker threads while the
 * updater replaces nodes and retires the old ones: freed at once, or after a grace period through
 * kfreeRcu, with QSBR or epoch-based RCU. With kmalloc caches poisoned (slab_debug=P), a reader that
 * reaches a freed node finds the poison (or, once the object is reused, a node that is not the one
 * it followed): counted. Over time: the memory waiting for a grace period and the grace-period
 * latency; then the same with one reader stalled inside a read section.
 */
import { defineScenario } from '../scenario.ts';
import type { Plot, Series, Table } from '../scenario.ts';
import type { RcuMode, RcuRunResult } from '../workloads/rcu-run.ts';

interface Run {
  label: string;
  mode: RcuMode;
  stalled: boolean;
  result: RcuRunResult;
}

function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? 0;
}

export const rcu = defineScenario({
  name: 'rcu',
  title: 'RCU: lock-free readers, deferred frees, and a stalled reader',
  question:
    'Readers that take no lock may still hold a pointer the updater just unlinked: what happens if it is freed at once, what does waiting for a grace period cost in memory and time, and what does one stalled reader do to it?',
  wallClock: true,
  params: {
    readers: { kind: 'int', default: 2, min: 1, max: 8, description: 'reader worker threads' },
    updates: { kind: 'int', default: 200_000, min: 1000, max: 100_000_000, description: 'node replacements by the updater, per run' },
    buckets: { kind: 'int', default: 16, min: 1, max: 4096, description: 'hash buckets (chains of 4 nodes)' },
    stallMs: { kind: 'int', default: 300, min: 1, max: 60_000, description: 'how long the stalled reader stays inside its read section' },
    stallTimeoutMs: { kind: 'int', default: 100, min: 1, max: 600_000, description: 'RCU stall warning after a grace period waits this long (Linux: 21 s)' },
    epochWithoutStall: { kind: 'bool', default: true, description: 'also run epoch RCU with no reader stalled (without it, that run\'s figures read "not run")' },
  },
  smoke: { updates: 4000, stallMs: 30, epochWithoutStall: false },
  async run(params, ctx) {
    // Worker threads are Node's (node:worker_threads): loaded here, so the registry stays browser-safe.
    const { ReaderPool, runRcuExperiment } = await import('../workloads/rcu-run.ts');
    const { updates, stallMs } = params;
    const plan: { mode: RcuMode; stalled: boolean }[] = [
      { mode: 'immediate', stalled: false },
      { mode: 'qsbr', stalled: false },
      { mode: 'epoch', stalled: false },
      { mode: 'qsbr', stalled: true },
      { mode: 'epoch', stalled: true },
    ].filter((step) => params.epochWithoutStall || step.mode !== 'epoch' || step.stalled) as { mode: RcuMode; stalled: boolean }[];
    const runs: Run[] = [];
    // The runs share their reader threads (a pool): starting a worker costs a quarter second of CPU.
    const pool = new ReaderPool();
    try {
      for (const [i, step] of plan.entries()) {
        const result = await runRcuExperiment({
          mode: step.mode,
          readers: params.readers,
          updates,
          seed: ctx.seed,
          buckets: params.buckets,
          stallTimeoutMs: params.stallTimeoutMs,
          ...(step.stalled ? { stall: { afterReads: 100, ms: stallMs } } : {}),
        }, pool);
        runs.push({ label: `${step.mode === 'immediate' ? 'free at once' : step.mode}${step.stalled ? ', one reader stalled' : ''}`, mode: step.mode, stalled: step.stalled, result });
        ctx.progress(i + 1, plan.length, runs[runs.length - 1]?.label);
      }
    } finally {
      await pool.close();
    }
    const table: Table = {
      id: 'runs',
      title: 'Uses after free, memory waiting and grace periods, per run',
      scheduling: true,
      columns: [
        { key: 'run', label: 'run' },
        { key: 'reads', label: 'reads' },
        { key: 'poison', label: 'freed nodes reached (poison)' },
        { key: 'reused', label: 'reused nodes reached' },
        { key: 'peakBytes', label: 'peak memory waiting', unit: 'B' },
        { key: 'gpP50', label: 'grace period p50', unit: 'ms', digits: 2 },
        { key: 'gpMax', label: 'grace period max', unit: 'ms', digits: 2 },
        { key: 'stalls', label: 'stall warnings' },
      ],
      rows: runs.map(({ label, result }) => ({
        run: label,
        reads: result.reads,
        poison: result.poisonHits,
        reused: result.reusedHits,
        peakBytes: result.pendingPeakBytes,
        gpP50: percentile(result.gpLatencyMs, 0.5),
        gpMax: percentile(result.gpLatencyMs, 1),
        stalls: result.stalls.length,
      })),
      note: 'Grace-period latency is from closing a batch to the poll that found it complete (the updater polls every 64 updates).',
    };
    const over = (value: (s: RcuRunResult['samples'][number]) => number): Series[] =>
      runs.filter((r) => r.mode !== 'immediate').map((r) => ({ label: r.label, points: r.result.samples.map((s) => [s.ms, value(s)] as [number, number]) }));
    const plots: Plot[] = [
      { id: 'pending-bytes', title: 'Memory waiting for a grace period', kind: 'line', timing: true, x: { label: 'time (ms)' }, y: { label: 'bytes' }, series: over((s) => s.pendingBytes) },
      {
        id: 'gp-latency',
        title: 'Grace-period latency (sorted)',
        kind: 'line',
        timing: true,
        x: { label: 'grace periods, fastest first' },
        y: { label: 'ms', log: true },
        series: runs.filter((r) => r.mode !== 'immediate').map((r) => ({ label: r.label, points: [...r.result.gpLatencyMs].sort((a, b) => a - b).map((v, i) => [i + 1, Math.max(v, 0.001)] as [number, number]) })),
      },
    ];
    const find = (mode: RcuMode, stalled: boolean) => runs.find((r) => r.mode === mode && r.stalled === stalled)?.result;
    // --no-epoch-without-stall (and --smoke) leaves out the epoch run without a stall: its figure is "not run", not 0.
    const peak = (mode: RcuMode, stalled: boolean): string => {
      const result = find(mode, stalled);
      return result === undefined ? 'not run' : `${result.pendingPeakBytes} B`;
    };
    const immediate = find('immediate', false);
    const stalls = runs.flatMap((r) => r.result.stalls);
    return {
      summary: [
        `Freeing at once: readers reached ${immediate?.poisonHits ?? 0} freed (poisoned) nodes and ${immediate?.reusedHits ?? 0} reused ones in ${immediate?.reads ?? 0} reads; with QSBR and epoch RCU, ${runs.filter((r) => r.mode !== 'immediate').reduce((n, r) => n + r.result.poisonHits + r.result.reusedHits, 0)}.`,
        `Peak memory waiting for a grace period: QSBR ${peak('qsbr', false)}, epoch ${peak('epoch', false)}; with one reader stalled ${stallMs} ms: QSBR ${peak('qsbr', true)}, epoch ${peak('epoch', true)}.`,
        stalls.length > 0
          ? `Stall warnings: ${stalls.length}; the first: ${stalls[0]?.message ?? ''}`
          : `No stall warning fired (the stall lasted ${stallMs} ms; the stall timeout is ${params.stallTimeoutMs} ms).`,
      ],
      tables: [table],
      plots,
    };
  },
});
