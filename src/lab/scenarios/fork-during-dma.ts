/**
 * fork-during-dma: a process receives into its buffer by zero-copy DMA (pages pinned with
 * pinUserPages) and forks while the device is still writing. Which fork policy keeps the device's
 * bytes where the parent expects them, and what does each cost in pages copied and time the writer
 * waited? A seeded schedule of forks, writes, DMA starts and completions on a simulated clock
 * (lab/workloads/fork-dma.ts), run identically for each policy of mm/vm/fork.ts.
 */
import { FORK_DMA_POLICIES } from '../../mm/vm/cow.ts';
import { runForkDma } from '../workloads/fork-dma.ts';
import type { ForkDmaResult } from '../workloads/fork-dma.ts';
import { defineScenario } from '../scenario.ts';
import type { Table } from '../scenario.ts';
import { PAGE_SIZE } from '../../mm/types.ts';

export const forkDuringDma = defineScenario({
  name: 'fork-during-dma',
  title: 'fork() while a device writes pinned pages: naive COW, early copy, deferred write',
  question:
    'A process forks while a NIC is still receiving into its pinned buffer: with plain copy-on-write the parent\'s next write moves it to a new page and the device\'s bytes land in the old one. Does copying pinned pages at fork (Linux 5.9+) or making the writer wait for the DMA keep every byte, and at what cost?',
  params: {
    ops: { kind: 'int', default: 20_000, min: 100, max: 10_000_000, description: 'operations in the schedule (forks, writes, DMA starts, completions, checks)' },
    bufferPages: { kind: 'int', default: 8, min: 1, max: 256, description: 'pages in the receive buffer' },
    ramBytes: { kind: 'size', default: 32 << 20, min: 16 << 20, max: 1 << 30, multipleOf: PAGE_SIZE, description: 'RAM of the emulated machine' },
  },
  smoke: { ops: 2_000 },
  run(params, ctx) {
    const { ops } = params;
    const runs: ForkDmaResult[] = [];
    FORK_DMA_POLICIES.forEach((policy, i) => {
      runs.push(runForkDma({ policy, seed: ctx.seed, ops, bufferPages: params.bufferPages, ramBytes: params.ramBytes }));
      ctx.progress(i + 1, FORK_DMA_POLICIES.length, policy);
    });
    const table: Table = {
      id: 'policies',
      title: `${ops} operations, ${params.bufferPages}-page buffer, same seeded schedule per policy`,
      columns: [
        { key: 'policy', label: 'policy' },
        { key: 'forks', label: 'forks' },
        { key: 'dmas', label: 'DMAs' },
        { key: 'lostDmas', label: 'DMAs lost (parent reads other bytes)' },
        { key: 'pagesCopiedAtFork', label: 'pages copied at fork' },
        { key: 'pagesCopiedOnWrite', label: 'pages copied on write' },
        { key: 'writesWaited', label: 'writes that waited' },
        { key: 'waitedUs', label: 'time writers waited (simulated)', unit: 'µs' },
      ],
      rows: runs.map((r) => ({
        policy: r.policy,
        forks: r.forks,
        dmas: r.dmas,
        lostDmas: r.lostDmas,
        pagesCopiedAtFork: r.pagesCopiedAtFork,
        pagesCopiedOnWrite: r.pagesCopiedOnWrite,
        writesWaited: r.writesWaited,
        waitedUs: r.waitedUs,
      })),
      note: 'The clock is simulated: 1 µs per operation, a DMA completes 5..40 µs after it starts. The schedule diverges between policies only where a writer waited (defer-write).',
    };
    const by = (p: string): ForkDmaResult => runs.find((r) => r.policy === p) as ForkDmaResult;
    const naive = by('naive');
    const early = by('early-copy');
    const defer = by('defer-write');
    return {
      answer: `naive copy-on-write lost ${naive.lostDmas} of ${naive.dmas} DMAs; early-copy and defer-write lost ${early.lostDmas} and ${defer.lostDmas}, early-copy by copying ${early.pagesCopiedAtFork} pinned pages at fork, defer-write by making ${defer.writesWaited} writes wait ${defer.waitedUs} µs in all.`,
      summary: [
        `naive: ${naive.lostDmas} of ${naive.dmas} DMAs landed in a page the parent no longer mapped (its write after the fork copied the page first).`,
        `early-copy: ${early.pagesCopiedAtFork} pages copied at fork for the children, ${early.pagesCopiedOnWrite} on write; no writer waited.`,
        `defer-write: ${defer.writesWaited} of ${defer.writes} writes waited, ${defer.waitedUs} µs of ${defer.simulatedUs} µs simulated; ${defer.pagesCopiedOnWrite} pages copied on write.`,
      ],
      tables: [table],
      plots: [],
    };
  },
});
