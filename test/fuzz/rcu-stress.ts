/**
 * The long RCU stress of `npm run fuzz`: `updates` node replacements (at least 1 M) against 2
 * reader workers, for both flavours; every retired node goes through kfreeRcu. Throws if any
 * reader reached a freed or reused node, or if a retired node was not freed at the end.
 */
import { runRcuExperiment } from '../../src/lab/workloads/rcu-run.ts';

export async function rcuStress(seed: number, updates: number): Promise<object> {
  const out: Record<string, object> = {};
  for (const mode of ['qsbr', 'epoch'] as const) {
    const run = await runRcuExperiment({ mode, readers: 2, updates, seed, buckets: 16 });
    if (run.poisonHits + run.reusedHits !== 0) {
      throw new Error(`rcu ${mode}: readers reached ${run.poisonHits} freed and ${run.reusedHits} reused nodes in ${updates} updates (seed ${seed}); expected none`);
    }
    if (run.freed !== updates) throw new Error(`rcu ${mode}: ${run.freed} of ${updates} retired nodes freed after the drain`);
    out[mode] = { updates, reads: run.reads, peakPendingBytes: run.pendingPeakBytes, gracePeriods: run.gpLatencyMs.length };
  }
  return out;
}
