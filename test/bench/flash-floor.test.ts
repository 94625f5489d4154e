// The flash benchmark's floor does the FTL's work without the NAND model: the same single greedy log
// writes (and copies) as much, so the ratio between them is the price of the model and its checks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MinimalGreedyLog } from '../../bench/flash.bench.ts';
import { logicalPagesFor, measureSteadyState } from '../../src/flash/steady-state.ts';
import { UniformWorkload, OpBatch } from '../../src/flash/workload.ts';

test("the minimal greedy log's write amplification is the FTL's (greedy, one log), within 1 %", () => {
  for (const alpha of [1.1, 1.5]) {
    const blocks = 128;
    const ppb = 32;
    const L = logicalPagesFor(alpha, blocks, ppb);
    const log = new MinimalGreedyLog(blocks, ppb, L);
    for (let l = 0; l < L; l++) log.write(l);
    const workload = new UniformWorkload(L, 1);
    const batch = new OpBatch();
    const run = (writes: number): void => {
      for (let done = 0; done < writes; ) {
        const n = Math.min(workload.next(batch), writes - done);
        for (let i = 0; i < n; i++) log.write(batch.lpn[i] as number);
        done += n;
      }
    };
    run(4 * L);
    const before = { host: log.hostWrites, programs: log.programs };
    run(4 * L);
    const wa = (log.programs - before.programs) / (log.hostWrites - before.host);
    const ftl = measureSteadyState({ policy: 'greedy', alpha, blocks, pagesPerBlock: ppb, seed: 1 });
    assert.ok(Math.abs(wa / ftl.writeAmplification - 1) < 0.01, `α ${alpha}: floor WA ${wa}, FTL ${ftl.writeAmplification}`);
    assert.ok(wa > 1.2, `the floor copies: WA ${wa}`);
    for (let l = 0; l < L; l++) assert.ok((log.l2p[l] as number) >= 0, `lpn ${l} is mapped`);
  }
});
