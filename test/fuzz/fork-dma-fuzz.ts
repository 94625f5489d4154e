/**
 * Shadow-model fuzz of fork / write / pin / DMA-complete sequences (lab/workloads/fork-dma.ts) for
 * each fork policy. Every run checks every process's bytes against the model and the kernel's
 * invariants (validate) as it goes; a lost DMA is counted, any other mismatch throws.
 * Requirement: 0 lost DMAs for early-copy and defer-write, and at least one for naive (the fuzz must
 * find the corruption the naive policy allows); this throws otherwise.
 */
import { FORK_DMA_POLICIES } from '../../src/mm/vm/cow.ts';
import type { ForkDmaPolicy } from '../../src/mm/vm/cow.ts';
import { runForkDma } from '../../src/lab/workloads/fork-dma.ts';
import { InvariantError } from '../../src/util/errors.ts';

const RUN_OPS = 50_000;

export interface ForkDmaFuzzReport {
  ops: number;
  perPolicy: Record<ForkDmaPolicy, { ops: number; runs: number; dmas: number; lostDmas: number; forks: number }>;
}

/** `ops` operations in all, split evenly over the policies, in runs of at most RUN_OPS. */
export function fuzzForkDma(options: { seed: number; ops: number; validateEvery: number }): ForkDmaFuzzReport {
  const each = Math.ceil(options.ops / FORK_DMA_POLICIES.length);
  const report: ForkDmaFuzzReport = { ops: 0, perPolicy: {} as ForkDmaFuzzReport['perPolicy'] };
  for (const policy of FORK_DMA_POLICIES) {
    const p = { ops: 0, runs: 0, dmas: 0, lostDmas: 0, forks: 0 };
    for (; p.ops < each; p.runs++) {
      const ops = Math.min(RUN_OPS, each - p.ops);
      const r = runForkDma({ policy, seed: options.seed * 1_000_003 + p.runs, ops, bufferPages: 1 + (p.runs % 8), validateEvery: options.validateEvery });
      p.ops += ops;
      p.dmas += r.dmas;
      p.lostDmas += r.lostDmas;
      p.forks += r.forks;
    }
    report.perPolicy[policy] = p;
    report.ops += p.ops;
    if (policy === 'naive' ? p.lostDmas === 0 : p.lostDmas > 0) {
      throw new InvariantError(`fork-dma fuzz: policy ${policy} lost ${p.lostDmas} of ${p.dmas} DMAs; expected ${policy === 'naive' ? 'at least one' : 'none'}`);
    }
  }
  return report;
}
