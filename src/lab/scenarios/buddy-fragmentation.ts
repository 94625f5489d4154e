/**
 * buddy-fragmentation: does grouping pages by mobility keep huge pages available?
 *
 * The same long-running stream of page allocations (lab/workloads/page-churn.ts) runs twice, once
 * with pageblocks grouped by migratetype (Linux's default) and once without
 * (page_group_by_mobility_disabled). Sampled over time: free blocks per order, the external
 * fragmentation index of order 9, how many 2 MiB (order-9) allocations would succeed right now
 * (tried for real, on a copy of the arena attached with Kernel.attach, so the probe does not disturb
 * the run), and how many pageblocks hold no unmovable page (so that compaction, by migrating the
 * movable pages away, could turn each into a huge page).
 *
 * A third run keeps grouping on and turns the per-CPU page lists (pcp) off. Pages parked on a CPU's
 * list are free but not on the buddy lists, so they keep their pageblocks from merging back into
 * order-9 blocks until the lists are drained: each sample also counts the wholly free pageblocks
 * the buddy allocator sees right now and the ones it would see with every list drained (on the copy).
 *
 * The workload's movable blocks are anonymous memory of one address space (PageChurn's `movable:
 * 'anonymous'`), so compaction can migrate them: at the end of each run, on another copy, memory is
 * compacted whole (/proc/sys/vm/compact_memory) and the order-9 allocations are counted again —
 * the huge pages compaction recovers, with and without grouping by mobility. Anonymous memory rather
 * than a registered movable-page owner (Linux's movable_operations, which serves zsmalloc and the
 * balloon driver) because on Linux the movable pages a long-running machine holds are mostly
 * anonymous and page-cache pages, which compaction migrates through the reverse map, and because the
 * whole state lives in the arena, so the copy compacts exactly what the run left.
 */
import { GFP } from '../../mm/gfp.ts';
import type { RamBuffer } from '../../machine/ram.ts';
import { Kernel } from '../../mm/kernel.ts';
import { MAX_PAGE_ORDER, PAGE_SIZE, PAGEBLOCK_ORDER } from '../../mm/types.ts';
import { fragmentationIndex, pageblockCensus } from '../../mm/vmstat.ts';
import { MADV } from '../../mm/vm/types.ts';
import { formatBytes } from '../../util/units.ts';
import { defineScenario } from '../scenario.ts';
import type { Plot, Series, Table } from '../scenario.ts';
import { PageChurn } from '../workloads/page-churn.ts';
import { InvariantError } from '../../util/errors.ts';

interface Sample {
  step: number;
  /** Pages on the CPUs' per-CPU lists. */
  pcpPages: number;
  /** Wholly free pageblocks once the per-CPU lists are drained (on the copy). */
  freePageblocksDrained: number;
  freeBlocks: number[];
  fragIndex9: number;
  order9Successes: number;
  movableOnly: number;
  freePageblocks: number;
  livePages: number;
}

interface ModeRun {
  grouping: boolean;
  pcp: boolean;
  samples: Sample[];
  failures: number;
  requests: number;
  fallbacks: number;
  claims: number;
  mixed: number;
  pageblocks: number;
  /** At the end, on a copy compacted whole: order-9 allocations that succeed, pages migrated. */
  compacted: CompactionProbe;
  /** After the workload freed everything: pages still on per-CPU lists, wholly free pageblocks now and drained. */
  idle: { pcpPages: number; freePageblocks: number; freePageblocksDrained: number };
}

/**
 * Buffers the probes copy the arena into, allocated once per run and reused: a fresh 128 MiB
 * buffer per probe (buffer.slice) cost the kernel zeroing and faulting in its pages, about half of
 * the scenario's time. A copy is a kernel of its own only until the next copy into the same buffer.
 */
class ArenaCopies {
  readonly #buffers: RamBuffer[] = [];

  /** A kernel attached to a copy of `source`'s arena, in reusable buffer `slot`. */
  copy(source: RamBuffer, slot: number): Kernel {
    let buffer = this.#buffers[slot];
    if (buffer === undefined || buffer.byteLength !== source.byteLength || buffer instanceof SharedArrayBuffer !== source instanceof SharedArrayBuffer) {
      buffer = source instanceof SharedArrayBuffer ? new SharedArrayBuffer(source.byteLength) : new ArrayBuffer(source.byteLength);
      this.#buffers[slot] = buffer;
    }
    new Uint8Array(buffer).set(new Uint8Array(source));
    return Kernel.attach(buffer);
  }
}

/**
 * On a copy of the arena: the wholly free pageblocks once every CPU's per-CPU lists are drained,
 * then how many order-9 allocations succeed.
 */
function probeOrder9(kernel: Kernel, copies: ArenaCopies): { freePageblocksDrained: number; order9Successes: number } {
  const copy = copies.copy(kernel.buffer, 0);
  for (let cpu = 0; cpu < kernel.cpus; cpu++) copy.pages.drainCpu(cpu);
  const freePageblocksDrained = pageblockCensus(copy.pages).free;
  let count = 0;
  while (copy.pages.tryAllocPages(PAGEBLOCK_ORDER, GFP.HIGHUSER_MOVABLE | GFP.COMP | GFP.NORETRY | GFP.NOWARN) !== null) count++;
  return { freePageblocksDrained, order9Successes: count };
}

/**
 * On a copy of the arena: the process frees every other movable block (MADV_DONTNEED), as when a
 * workload shrinks and leaves its free memory scattered; the per-CPU lists are drained; order-9
 * allocations are counted as memory lies (on one more copy) and after compacting every zone whole.
 */
function probeCompacted(kernel: Kernel, churn: PageChurn, copies: ArenaCopies): CompactionProbe {
  const copy = copies.copy(kernel.buffer, 0);
  const mm = churn.mm === null ? undefined : copy.vm.addressSpace(churn.mm.pid);
  if (mm === undefined) throw new Error('buddy-fragmentation: the workload has no address space');
  churn.liveAnonymousBlocks().forEach(([vaddr, bytes], i) => {
    if (i % 2 === 0) mm.madvise(vaddr, bytes, MADV.DONTNEED);
  });
  for (let cpu = 0; cpu < kernel.cpus; cpu++) copy.pages.drainCpu(cpu);
  const asLies = copies.copy(copy.buffer, 1);
  let uncompacted = 0;
  while (asLies.pages.tryAllocPages(PAGEBLOCK_ORDER, GFP.HIGHUSER_MOVABLE | GFP.COMP | GFP.NORETRY | GFP.NOWARN) !== null) uncompacted++;
  const before = copy.vm.counter('pgmigrate_success');
  copy.vm.compact(-1);
  const migrated = copy.vm.counter('pgmigrate_success') - before;
  copy.validate();
  let count = 0;
  while (copy.pages.tryAllocPages(PAGEBLOCK_ORDER, GFP.HIGHUSER_MOVABLE | GFP.COMP | GFP.NORETRY | GFP.NOWARN) !== null) count++;
  return { uncompacted, order9Successes: count, migrated };
}

interface CompactionProbe {
  /** Order-9 allocations that succeed after the half free, before compaction. */
  uncompacted: number;
  /** … and after compacting every zone whole. */
  order9Successes: number;
  /** Pages compaction migrated. */
  migrated: number;
}

const MODES = [
  { grouping: true, pcp: true },
  { grouping: false, pcp: true },
  { grouping: true, pcp: false },
] as const;

export const buddyFragmentation = defineScenario({
  name: 'buddy-fragmentation',
  title: 'Buddy allocator fragmentation: grouping by mobility vs. not',
  question:
    'Huge pages need 2 MiB of contiguous, aligned memory: after a long mixed workload, how many order-9 blocks can the buddy allocator still hand out, does grouping pages by migratetype keep them available, and how many do the per-CPU page lists hide?',
  params: {
    ramBytes: { kind: 'size', default: 128 << 20, min: 32 << 20, max: 1 << 30, multipleOf: PAGE_SIZE, description: 'RAM of the emulated machine' },
    steps: { kind: 'int', default: 600_000, min: 1000, max: 100_000_000, description: 'allocation requests (one per step)' },
    usage: { kind: 'number', default: 0.75, min: 0.05, max: 0.95, description: 'target fraction of managed pages in use' },
    unmovableShare: { kind: 'number', default: 0.1, min: 0, max: 0.9, description: 'share of pages in use that are unmovable' },
    reclaimableShare: { kind: 'number', default: 0.05, min: 0, max: 0.9, description: 'share of pages in use that are reclaimable' },
    lifetimeRatio: { kind: 'number', default: 10, min: 1, max: 1000, description: 'unmovable/reclaimable lifetime ÷ movable lifetime' },
    samples: { kind: 'int', default: 30, min: 2, max: 1000, description: 'points sampled over the run' },
  },
  smoke: { steps: 20_000, ramBytes: 32 << 20, samples: 5 },
  check: (p) =>
    p.unmovableShare + p.reclaimableShare > 1
      ? `--unmovable-share ${p.unmovableShare} + --reclaimable-share ${p.reclaimableShare} is more than 1: they are shares of the same pages in use`
      : p.samples > p.steps
        ? `--samples ${p.samples} is more than --steps ${p.steps}: at most one sample per request`
        : null,
  run(params, ctx) {
    const { steps, ramBytes, samples } = params;
    const modes: ModeRun[] = [];
    const copies = new ArenaCopies();
    for (const [m, { grouping, pcp }] of MODES.entries()) {
      const kernel = Kernel.boot({ ramBytes, groupByMobility: grouping, pcp });
      const churn = new PageChurn(kernel, { ...params, steps, seed: ctx.seed, movable: 'anonymous' });
      const run: ModeRun = {
        grouping,
        pcp,
        samples: [],
        failures: 0,
        requests: 0,
        fallbacks: 0,
        claims: 0,
        mixed: 0,
        pageblocks: 0,
        compacted: { uncompacted: 0, order9Successes: 0, migrated: 0 },
        idle: { pcpPages: 0, freePageblocks: 0, freePageblocksDrained: 0 },
      };
      for (let s = 1; s <= samples; s++) {
        churn.run(Math.round((steps * s) / samples) - churn.counters.step);
        const stats = kernel.pages.stats();
        const normal = kernel.pages.zones[kernel.pages.zones.length - 1];
        const census = pageblockCensus(kernel.pages);
        const probe = probeOrder9(kernel, copies);
        run.samples.push({
          step: churn.counters.step,
          pcpPages: stats.pcpPages,
          freePageblocksDrained: probe.freePageblocksDrained,
          freeBlocks: Array.from({ length: MAX_PAGE_ORDER + 1 }, (_, o) => stats.zones.reduce((sum, z) => sum + (z.freeBlocks[o] ?? 0), 0)),
          fragIndex9: normal === undefined ? 0 : fragmentationIndex(normal, PAGEBLOCK_ORDER),
          order9Successes: probe.order9Successes,
          movableOnly: census.movableOnly,
          freePageblocks: census.free,
          livePages: churn.counters.livePages,
        });
        ctx.progress(m * samples + s, MODES.length * samples, label(run));
      }
      kernel.validate();
      run.compacted = probeCompacted(kernel, churn, copies);
      const census = pageblockCensus(kernel.pages);
      const stats = kernel.pages.stats();
      run.failures = churn.counters.failures;
      run.requests = churn.counters.requests;
      run.fallbacks = stats.zones.reduce((sum, z) => sum + z.events.fallbacks, 0);
      run.claims = stats.zones.reduce((sum, z) => sum + z.events.pageblockClaims, 0);
      run.mixed = Object.values(census.mixed).reduce((a, b) => a + b, 0);
      run.pageblocks = census.pageblocks;
      churn.drain();
      kernel.validate();
      run.idle = {
        pcpPages: kernel.pages.pcpPages(),
        freePageblocks: pageblockCensus(kernel.pages).free,
        freePageblocksDrained: probeOrder9(kernel, copies).freePageblocksDrained,
      };
      modes.push(run);
    }
    return assemble(modes, ramBytes, steps);
  },
});

function label(run: { grouping: boolean; pcp: boolean }): string {
  return `${run.grouping ? 'grouped by mobility' : 'not grouped'}${run.pcp ? '' : ', no pcp'}`;
}

function recovered(run: ModeRun): number {
  return run.compacted.order9Successes - run.compacted.uncompacted;
}

function last(run: ModeRun): Sample {
  const sample = run.samples[run.samples.length - 1];
  if (sample === undefined) throw new InvariantError('buddy-fragmentation: a run with no samples; expected at least one per run');
  return sample;
}

/** A run's series; the run without per-CPU lists is dashed, since it may coincide with the grouped run. */
function series(run: ModeRun, pick: (s: Sample) => number, name = label(run)): Series {
  return { label: name, points: run.samples.map((s) => [s.step, pick(s)]), ...(run.pcp ? {} : { style: 'dashed' as const }) };
}

function assemble(modes: ModeRun[], ramBytes: number, steps: number) {
  const [on, off, noPcp] = modes as [ModeRun, ModeRun, ModeRun];
  const answer =
    `Grouping by mobility keeps ${last(on).movableOnly} of ${on.pageblocks} pageblocks free of unmovable pages (huge pages that compaction can recover) vs ${last(off).movableOnly} not grouped; ` +
    `without compaction ${last(on).order9Successes} vs ${last(off).order9Successes} order-9 allocations succeed at the end; ` +
    `once half the movable memory is freed, compaction recovers ${recovered(on)} order-9 blocks grouped vs ${recovered(off)} not grouped (${on.compacted.uncompacted} → ${on.compacted.order9Successes} vs ${off.compacted.uncompacted} → ${off.compacted.order9Successes}).`;
  const summary = [
    `${formatBytes(ramBytes)} RAM, ${steps} requests, ${on.pageblocks} pageblocks of 2 MiB.`,
    `Pageblocks with no unmovable or reclaimable page (huge pages compaction could make): ${last(on).movableOnly} grouped vs ${last(off).movableOnly} not grouped.`,
    `At the end, order-9 allocations that succeed as memory lies (no compaction): ${last(on).order9Successes} grouped vs ${last(off).order9Successes} not grouped. Grouping does not by itself leave free huge pages; it keeps them recoverable.`,
    `On a copy where the process then frees every other movable block (its free memory left scattered), order-9 allocations that succeed: ${on.compacted.uncompacted} grouped vs ${off.compacted.uncompacted} not grouped as memory lies, ${on.compacted.order9Successes} vs ${off.compacted.order9Successes} after compacting memory whole (${on.compacted.migrated} vs ${off.compacted.migrated} anonymous pages migrated).`,
    `Pageblocks mixing allocations of another type: ${on.mixed} grouped vs ${off.mixed} not grouped.`,
    `Per-CPU lists hide ${last(on).pcpPages} free pages at the end: the buddy allocator sees ${last(on).freePageblocks} wholly free pageblocks, ${last(on).freePageblocksDrained} once the lists are drained (without pcp: ${last(noPcp).freePageblocks}). With everything freed, ${on.idle.pcpPages} pages still on the lists keep ${on.idle.freePageblocksDrained - on.idle.freePageblocks} pageblocks from being whole until drained.`,
  ];
  const pcpTable: Table = {
    id: 'pcp',
    title: 'Per-CPU page lists and order-9 availability (grouped by mobility)',
    columns: [
      { key: 'mode', label: 'per-CPU lists' },
      { key: 'pcpPages', label: 'pages on per-CPU lists' },
      { key: 'free', label: 'wholly free pageblocks (buddy, now)' },
      { key: 'drained', label: 'wholly free pageblocks (lists drained)' },
      { key: 'order9', label: 'order-9 allocations that succeed (lists drained)' },
      { key: 'idlePcpPages', label: 'all freed: pages on per-CPU lists' },
      { key: 'idleFree', label: 'all freed: wholly free pageblocks (buddy)' },
      { key: 'idleDrained', label: 'all freed: wholly free pageblocks (lists drained)' },
    ],
    rows: [on, noPcp].map((run) => ({
      mode: run.pcp ? 'on' : 'off',
      pcpPages: last(run).pcpPages,
      free: last(run).freePageblocks,
      drained: last(run).freePageblocksDrained,
      order9: last(run).order9Successes,
      idlePcpPages: run.idle.pcpPages,
      idleFree: run.idle.freePageblocks,
      idleDrained: run.idle.freePageblocksDrained,
    })),
    note: 'A free page on a per-CPU list is not a buddy free block: until the list is drained (when an allocation fails, or its CPU goes offline) it keeps its pageblock from merging into an order-9 block.',
  };
  const table: Table = {
    id: 'summary',
    title: 'At the end of the run',
    columns: [
      { key: 'mode', label: 'pageblocks' },
      { key: 'order9', label: 'order-9 allocations that succeed' },
      { key: 'order9HalfFreed', label: 'half the movable memory freed: order-9 allocations that succeed' },
      { key: 'order9Compacted', label: '… after compaction' },
      { key: 'recovered', label: 'order-9 blocks compaction recovers' },
      { key: 'migrated', label: 'pages compaction migrated' },
      { key: 'movableOnly', label: 'pageblocks free of unmovable pages' },
      { key: 'free', label: 'wholly free pageblocks' },
      { key: 'mixed', label: 'mixed pageblocks' },
      { key: 'fragIndex', label: 'fragmentation index, order 9, Normal zone', digits: 3 },
      { key: 'fallbacks', label: 'fallbacks' },
      { key: 'claims', label: 'pageblock claims' },
      { key: 'failures', label: 'failed requests' },
    ],
    rows: modes.map((run) => ({
      mode: label(run),
      order9: last(run).order9Successes,
      order9HalfFreed: run.compacted.uncompacted,
      order9Compacted: run.compacted.order9Successes,
      recovered: recovered(run),
      migrated: run.compacted.migrated,
      movableOnly: last(run).movableOnly,
      free: last(run).freePageblocks,
      mixed: run.mixed,
      fragIndex: last(run).fragIndex9 / 1000,
      fallbacks: run.fallbacks,
      claims: run.claims,
      failures: run.failures,
    })),
    note: "Fragmentation index (Linux's extfrag_index) of the Normal zone only, where the workload's pages come from: -1 means an order-9 block is free there; toward 0 a failure would be for lack of memory, toward 1 for fragmentation. The other counts cover every zone.",
  };
  const buddy: Table = {
    id: 'buddyinfo',
    title: 'Free blocks per order at the end (all zones)',
    columns: [{ key: 'mode', label: 'pageblocks' }, ...Array.from({ length: MAX_PAGE_ORDER + 1 }, (_, o) => ({ key: `o${o}`, label: `order ${o}` }))],
    rows: modes.map((run) => {
      const row: Record<string, string | number> = { mode: label(run) };
      last(run).freeBlocks.forEach((n, o) => (row[`o${o}`] = n));
      return row;
    }),
  };
  const plots: Plot[] = [
    {
      id: 'order9',
      title: 'Order-9 (2 MiB) allocations that would succeed',
      kind: 'line',
      x: { label: 'requests' },
      y: { label: 'order-9 allocations' },
      // The probe drains the per-CPU lists first, so the two grouped runs can coincide: the second is dashed.
      series: modes.map((run) => ({ ...series(run, (s) => s.order9Successes), ...(run.pcp ? {} : { style: 'dashed' as const }) })),
    },
    {
      id: 'movable-only',
      title: 'Pageblocks with no unmovable page: huge pages that compaction can recover',
      kind: 'line',
      x: { label: 'requests' },
      y: { label: 'pageblocks' },
      series: modes.map((run) => series(run, (s) => s.movableOnly)),
    },
    {
      id: 'free-memory-by-order',
      title: 'Where the free memory lies at the end: share of free pages in blocks of each order',
      kind: 'bar',
      x: { label: 'free block size' },
      y: { label: 'share of free pages', format: 'percent' },
      categories: Array.from({ length: MAX_PAGE_ORDER + 1 }, (_, o) => `order ${o} (${formatBytes(4096 << o).replace(' ', '')})`),
      series: [on, off].map((run) => {
        const blocks = last(run).freeBlocks;
        const freePages = blocks.reduce((sum, n, o) => sum + n * 2 ** o, 0);
        return { label: label(run), points: blocks.map((n, o): [number, number] => [o, freePages === 0 ? 0 : (n * 2 ** o) / freePages]) };
      }),
      note: 'Free blocks per order (the buddyinfo table below), weighted by their size: memory in order-9 and order-10 blocks can back huge pages as it lies.',
    },
    {
      id: 'pcp-hidden',
      title: 'Wholly free pageblocks: what the buddy allocator sees vs. with the per-CPU lists drained',
      kind: 'line',
      x: { label: 'requests' },
      y: { label: 'pageblocks' },
      series: [series(on, (s) => s.freePageblocks, 'pcp on, buddy now'), { ...series(on, (s) => s.freePageblocksDrained, 'pcp on, lists drained'), style: 'dashed' }, { ...series(noPcp, (s) => s.freePageblocks, 'pcp off'), style: 'points' }],
    },
  ];
  return { answer, summary, tables: [table, pcpTable, buddy], plots };
}
