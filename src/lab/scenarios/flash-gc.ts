/**
 * flash-gc: flash cannot be overwritten in place; how much does a log-structured allocator with
 * garbage collection write, per policy and over-provisioning, against the analytic results, and
 * against updating in place?
 *
 * Every run drives the page-mapped store (flash/ftl.ts) on an emulated NAND chip and reads what
 * happened from the chip's counters (flash/steady-state.ts: fill, warm-up, measure):
 *   1. write amplification against over-provisioning for the six victim policies under uniform
 *      random overwrites, with Desnoyers' FIFO and greedy curves (and Agarwal–Marrow's) overlaid
 *   2. hot/cold (r/f) traffic: greedy, LFS cost-benefit and F2FS cost-benefit, with one frontier,
 *      with hot and cold apart and GC copies back in their own temperature's frontier (the layout
 *      Desnoyers models), or with hot, cold and GC frontiers apart; and F2FS's split (greedy in the
 *      foreground, cost-benefit in background GC on idle time); each against the model's optimal
 *      static hot/cold split (flash/analytic.ts, optimalHotColdSplit)
 *   3. how full the victims were (LFS's bimodal distribution under cost-benefit)
 *   4. erase counts per block with no wear levelling, dynamic, static, and both
 *   5. the in-place baseline (read-modify-erase-write) beside the log: WA, chip busy time and energy
 */
import { optimalHotColdSplit, waAgarwal, waFifo, waGreedy } from '../../flash/analytic.ts';
import { InPlaceStore } from '../../flash/in-place.ts';
import type { LogStoreConfig } from '../../flash/log-store.ts';
import { drive, measureSteadyState } from '../../flash/steady-state.ts';
import type { SteadyStateResult } from '../../flash/steady-state.ts';
import { VICTIM_POLICIES } from '../../flash/victim.ts';
import type { VictimPolicyName } from '../../flash/victim.ts';
import { HotColdWorkload, SequentialWorkload, UniformWorkload } from '../../flash/workload.ts';
import type { Workload } from '../../flash/workload.ts';
import { NandDevice } from '../../machine/nand.ts';
import { NAND_TIMING_NAMES } from '../../machine/nand-timing.ts';
import type { NandTimingName } from '../../machine/nand-timing.ts';
import { defineScenario } from '../scenario.ts';
import type { Column, Plot, ScenarioResult, Series, Table } from '../scenario.ts';
import { TRACE_FORMATS } from '../../flash/traces/formats.ts';
import type { TraceFormat } from '../../flash/traces/formats.ts';
import { TraceFormatError, TraceWorkload } from '../../flash/traces/reader.ts';
import { gcTestbed, logicalPagesFor } from '../../flash/steady-state.ts';

interface Sizes {
  blocks: number;
  pagesPerBlock: number;
  warmupPasses: number;
  measurePasses: number;
}

const HISTOGRAM_BINS = 10;

function victimShares(hist: number[]): number[] {
  const bins = new Array<number>(HISTOGRAM_BINS).fill(0);
  const units = hist.length - 1;
  let total = 0;
  hist.forEach((n, valid) => {
    bins[Math.min(HISTOGRAM_BINS - 1, Math.floor((valid / units) * HISTOGRAM_BINS))]! += n;
    total += n;
  });
  return bins.map((n) => (total === 0 ? 0 : n / total));
}

function meanValidFraction(hist: number[]): number {
  let total = 0;
  let sum = 0;
  hist.forEach((n, valid) => {
    total += n;
    sum += n * valid;
  });
  return total === 0 ? 0 : sum / total / (hist.length - 1);
}

function modelFor(policy: string, alpha: number, pagesPerBlock: number): number | null {
  if (policy === 'fifo') return waFifo(alpha);
  if (policy === 'greedy') return waGreedy(alpha, pagesPerBlock);
  return null;
}

interface WaPoint {
  policy: VictimPolicyName;
  result: SteadyStateResult;
  model: number | null;
  writesPerSecond: number;
}

function waSweep(alphas: readonly number[], sizes: Sizes, seed: number, progress: (label: string) => void): WaPoint[] {
  const points: WaPoint[] = [];
  for (const policy of VICTIM_POLICIES) {
    for (const alpha of alphas) {
      progress(`${policy} α=${alpha}`);
      const started = performance.now();
      const result = measureSteadyState({ policy, alpha, ...sizes, seed });
      const seconds = (performance.now() - started) / 1000;
      const writes = result.logicalPages * (1 + sizes.warmupPasses) + result.hostWrites;
      points.push({ policy, result, model: modelFor(policy, result.alpha, sizes.pagesPerBlock), writesPerSecond: writes / seconds });
    }
  }
  return points;
}

interface HotColdRun {
  label: string;
  frontiers: string;
  result: SteadyStateResult;
}

const SPLIT_LABEL = 'greedy fg + f2fs-cb bg';
const ONE_LOG = 'one log';
const BY_TEMPERATURE = 'hot, cold apart; GC copies by temperature';
const GC_APART = 'hot, cold, GC apart';

/** The hot/cold table's note, its figures (watermarks, reserves) read from the stores the runs used. */
function hotColdNote(runs: readonly HotColdRun[]): string {
  const split = runs.find((run) => run.label === SPLIT_LABEL);
  const reserves = (frontiers: string): string => [...new Set(runs.filter((run) => run.frontiers === frontiers && run !== split).map((run) => run.result.ftl.config.lowWatermark))].join(' or ');
  const apart = reserves(GC_APART);
  let splitText = '';
  let splitReserve = '';
  if (split !== undefined) {
    const config = split.result.ftl.config;
    splitText = ` Greedy fg + f2fs-cb bg: background GC on idle time every Np/2 writes up to ${config.highWatermark} free blocks.`;
    if (String(config.lowWatermark) !== apart) splitReserve = `, ${config.lowWatermark} for greedy fg + f2fs-cb bg`;
  }
  return (
    "'by temperature': hot and cold host writes (the workload's hint) have their own frontiers, and a victim's live data goes back to the frontier of the temperature that wrote it (Desnoyers' separated pools). 'GC apart': GC copies have a third frontier of their own." +
    splitText +
    ` Each run sizes L = (B − R)·Np/α with its own reserve R (${reserves(ONE_LOG)} for one log, ${reserves(BY_TEMPERATURE)} by temperature, ${apart} with GC apart${splitReserve}); effective α = (B − mean free blocks)·Np/L, lower where background GC holds more blocks free than R.` +
    ' Model optimum: the least WA of hot and cold pools each cleaned greedily under uniform traffic, over every static split of the space between them (Desnoyers SYSTOR 2012 / TOS 2014; docs/flash.md, H1–H3), at the run\'s α; the proportional split gives the uniform greedy WA.'
  );
}

function hotCold(alpha: number, r: number, f: number, sizes: Sizes, seed: number): HotColdRun[] {
  const workload = (pages: number, s: number): Workload => new HotColdWorkload(pages, r, f, s);
  const single: Omit<LogStoreConfig, 'policy'> = { hostStreams: 1, gcFrontier: 'shared' };
  const byTemperature: Omit<LogStoreConfig, 'policy'> = { hostStreams: 2, gcFrontier: 'shared' };
  const apart: Omit<LogStoreConfig, 'policy'> = { hostStreams: 2, gcFrontier: 'separate' };
  const runs: HotColdRun[] = [];
  for (const [frontiers, store] of [
    [ONE_LOG, single],
    [BY_TEMPERATURE, byTemperature],
    [GC_APART, apart],
  ] as const) {
    for (const policy of ['greedy', 'cost-benefit', 'f2fs-cb'] as const) {
      runs.push({ label: policy, frontiers, result: measureSteadyState({ policy, alpha, ...sizes, seed, store, workload }) });
    }
  }
  // F2FS's split: greedy when a write finds too few free blocks, cost-benefit on idle time.
  const low = 2;
  runs.push({
    label: SPLIT_LABEL,
    frontiers: GC_APART,
    result: measureSteadyState({
      policy: 'greedy',
      alpha,
      ...sizes,
      seed,
      store: { ...apart, backgroundPolicy: 'f2fs-cb', lowWatermark: low, highWatermark: low + 4 },
      workload,
      idleEvery: sizes.pagesPerBlock / 2,
    }),
  });
  return runs;
}

interface WearRun {
  label: string;
  counts: number[];
  wa: number;
  staticMoves: number;
}

function wear(alpha: number, passes: number, sizes: Sizes, threshold: number, seed: number): WearRun[] {
  const configs: [string, Omit<LogStoreConfig, 'policy'>][] = [
    ['none', {}],
    ['dynamic (least-worn free block)', { freeBlockOrder: 'least-worn' }],
    [`static (threshold ${threshold})`, { staticWearLevelling: threshold }],
    ['dynamic + static', { freeBlockOrder: 'least-worn', staticWearLevelling: threshold }],
  ];
  return configs.map(([label, store]) => {
    const r = measureSteadyState({
      policy: 'greedy',
      alpha,
      ...sizes,
      warmupPasses: 1,
      measurePasses: passes,
      seed,
      store: { ...store, lowWatermark: 4 },
      workload: (pages, s) => new HotColdWorkload(pages, 0.95, 0.05, s),
    });
    return { label, counts: Array.from(r.device.eraseCounts).sort((a, b) => a - b), wa: r.writeAmplification, staticMoves: r.ftl.gcStats().staticMoves };
  });
}

interface InPlaceRow {
  store: string;
  workload: string;
  wa: number;
  busyUsPerWrite: number;
  energyUjPerWrite: number;
  erasesPerWrite: number;
}

function inPlaceComparison(alpha: number, sizes: Sizes, timing: NandTimingName, seed: number): InPlaceRow[] {
  const rows: InPlaceRow[] = [];
  for (const workloadName of ['uniform random', 'sequential'] as const) {
    const log = measureSteadyState({ policy: 'greedy', alpha, ...sizes, seed, timing, workload: workloadName === 'sequential' ? (pages) => new SequentialWorkload(pages) : undefined });
    // The same logical pages as the log store, on the same chip.
    const L = log.logicalPages;
    const make = (): Workload => (workloadName === 'sequential' ? new SequentialWorkload(L) : new UniformWorkload(L, seed));
    const device = NandDevice.create({ geometry: log.device.geometry, storePayload: false, timing });
    const inPlace = new InPlaceStore(device, L);
    drive(inPlace, new SequentialWorkload(L), L);
    const before = device.stats();
    const writes = Math.max(1, Math.round(L * Math.min(1, sizes.measurePasses / 2)));
    drive(inPlace, make(), writes);
    const after = device.stats();
    rows.push(
      {
        store: 'log-structured (greedy)',
        workload: workloadName,
        wa: log.writeAmplification,
        busyUsPerWrite: log.busyNs / 1000 / log.hostWrites,
        energyUjPerWrite: log.energyNj / 1000 / log.hostWrites,
        erasesPerWrite: log.erases / log.hostWrites,
      },
      {
        store: 'in place (read-modify-erase-write)',
        workload: workloadName,
        wa: (after.programs - before.programs) / writes,
        busyUsPerWrite: (after.busyNs - before.busyNs) / 1000 / writes,
        energyUjPerWrite: (after.energyNj - before.energyNj) / 1000 / writes,
        erasesPerWrite: (after.erases - before.erases) / writes,
      },
    );
  }
  return rows;
}

function stddev(values: number[]): number {
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  return Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / values.length);
}

export const flashGc = defineScenario({
  name: 'flash-gc',
  title: 'Log-structured flash allocation: garbage collection, write amplification, wear',
  question:
    'Flash cannot be overwritten in place: how much extra writing does a log-structured allocator with garbage collection cost, per victim policy and over-provisioning, does it match the analytic models, how do hot/cold separation and wear levelling change it, and what would updating in place cost instead?',
  wallClock: true,
  params: {
    alphas: { kind: 'numbers', default: [1.07, 1.1, 1.15, 1.2, 1.28, 1.5, 2.0], min: 1.01, max: 10, description: 'α = physical / logical pages to sweep' },
    blocks: { kind: 'int', default: 1024, min: 16, max: 65536, description: 'erase blocks in the chip' },
    pagesPerBlock: { kind: 'int', default: 64, min: 4, max: 1024, description: 'pages per erase block (Np)' },
    warmupPasses: { kind: 'number', default: 4, min: 0, max: 100, description: 'warm-up writes, in logical-space passes' },
    measurePasses: { kind: 'number', default: 4, min: 0.1, max: 100, description: 'measured writes, in logical-space passes' },
    hotColdAlpha: { kind: 'number', default: 1.2, min: 1.01, max: 10, description: 'α of the hot/cold, wear and in-place runs' },
    hotWrites: { kind: 'number', default: 0.9, min: 0, max: 1, description: 'hot/cold: fraction r of writes to the hot pages' },
    hotPages: { kind: 'number', default: 0.1, min: 0.01, max: 0.99, description: 'hot/cold: fraction f of pages that are hot' },
    wearPasses: { kind: 'number', default: 30, min: 1, max: 1000, description: 'wear run: writes in logical-space passes' },
    wearThreshold: { kind: 'int', default: 20, min: 1, max: 100000, description: 'static wear levelling: erase-count spread that triggers a move' },
    timing: { kind: 'enum', values: NAND_TIMING_NAMES, default: 'slc' as NandTimingName, description: 'NAND cost figures for busy time and energy' },
    wearBlocks: { kind: 'int', default: 128, min: 16, max: 65536, description: 'wear and in-place runs: erase blocks in their chip (small, so that erase counts spread)' },
    wearPagesPerBlock: { kind: 'int', default: 16, min: 4, max: 1024, description: 'wear run: pages per erase block' },
    trace: { kind: 'string', file: true, default: '', description: "a block trace file to replay instead of the synthetic workloads (MSR Cambridge's hm_0.csv and the rest: SNIA's IOTTA repository, the 'MSR Cambridge Traces' set; see README)" },
    traceFormat: { kind: 'enum', values: TRACE_FORMATS, default: 'msr' as TraceFormat, description: 'format of --trace' },
  },
  smoke: { blocks: 64, pagesPerBlock: 16, warmupPasses: 1, measurePasses: 1, alphas: [1.07, 1.1], wearPasses: 2, wearBlocks: 64 },
  run(params, ctx) {
    if (params.trace !== '') return replayTrace(params.trace, params.traceFormat, params.alphas, params.blocks, params.pagesPerBlock, ctx.seed, (done, total, label) => ctx.progress(done, total, label));
    const sizes: Sizes = { blocks: params.blocks, pagesPerBlock: params.pagesPerBlock, warmupPasses: params.warmupPasses, measurePasses: params.measurePasses };
    const alphas = params.alphas;
    const wearSizes: Sizes = { ...sizes, blocks: params.wearBlocks, pagesPerBlock: params.wearPagesPerBlock };
    const wearPasses = params.wearPasses;
    const steps = VICTIM_POLICIES.length * alphas.length + 3;
    let step = 0;
    const progress = (label: string) => ctx.progress(step++, steps, label);
    const points = waSweep(alphas, sizes, ctx.seed, progress);
    progress('hot/cold');
    const hc = hotCold(params.hotColdAlpha, params.hotWrites, params.hotPages, sizes, ctx.seed);
    progress('wear');
    const wearRuns = wear(params.hotColdAlpha, wearPasses, wearSizes, params.wearThreshold, ctx.seed);
    progress('in place');
    const inPlaceSizes: Sizes = { ...sizes, blocks: params.wearBlocks };
    const inPlace = inPlaceComparison(params.hotColdAlpha, inPlaceSizes, params.timing, ctx.seed);
    ctx.progress(steps, steps);
    return assemble(points, hc, wearRuns, inPlace, { sizes, wearSizes, inPlaceSizes, wearPasses, alphas }, { r: params.hotWrites, f: params.hotPages, alpha: params.hotColdAlpha });
  },
});

interface Geometry {
  sizes: Sizes;
  wearSizes: Sizes;
  inPlaceSizes: Sizes;
  wearPasses: number;
  /** The target α of the sweep (the stores' own α differ slightly: whole pages and a reserve). */
  alphas: readonly number[];
}

const chipText = (s: Sizes): string => `${s.blocks} blocks × ${s.pagesPerBlock} pages`;

/** α values as column keys and labels of the tables pivoted by α. */
function alphaColumns(alphas: readonly number[], digits: number, unit?: string): Column[] {
  return alphas.map((a, i) => ({ key: `a${i}`, label: `α ${a}`, digits, ...(unit === undefined ? {} : { unit }) }));
}

function assemble(points: WaPoint[], hc: HotColdRun[], wearRuns: WearRun[], inPlace: InPlaceRow[], geometry: Geometry, hot: { r: number; f: number; alpha: number }) {
  const { sizes, wearSizes, inPlaceSizes, wearPasses } = geometry;
  const np = sizes.pagesPerBlock;
  const alphas = [...new Set(points.map((p) => p.result.alpha))].sort((a, b) => a - b);
  const targetAlphas = geometry.alphas;
  const byPolicy = (policy: string) => points.filter((p) => p.policy === policy);
  const worst = (policy: string) => Math.max(...points.filter((p) => p.policy === policy && p.model !== null).map((p) => Math.abs(p.result.writeAmplification / (p.model as number) - 1)));
  const bestHc = hc.reduce((a, b) => (a.result.writeAmplification <= b.result.writeAmplification ? a : b));
  const optimum = (alpha: number) => optimalHotColdSplit(alpha, hot.r, hot.f, (a) => waGreedy(a, np));
  const bestOptimum = optimum(bestHc.result.alpha);
  const uniformRows = inPlace.filter((r) => r.workload === 'uniform random');
  const greedyAt = byPolicy('greedy').reduce((a, b) => (Math.abs(b.result.alpha - hot.alpha) < Math.abs(a.result.alpha - hot.alpha) ? b : a));
  const fifoAt = byPolicy('fifo').find((p) => p.result.alpha === greedyAt.result.alpha);
  const answer =
    `At α ${greedyAt.result.alpha.toFixed(2)} greedy GC writes ${greedyAt.result.writeAmplification.toFixed(2)} pages per host page (FIFO ${fifoAt?.result.writeAmplification.toFixed(2) ?? '?'}), ` +
    `within ${(100 * Math.max(worst('fifo'), worst('greedy'))).toFixed(1)}% of the analytic models over α; hot/cold separation brings it to ${bestHc.result.writeAmplification.toFixed(2)}; ` +
    `updating in place would write ${uniformRows[1]?.wa.toFixed(0) ?? '?'}× instead.`;
  const summary = [
    `WA sweep and hot/cold: ${chipText(sizes)}; fill, ${sizes.warmupPasses} passes of warm-up, ${sizes.measurePasses} measured. Wear runs: ${chipText(wearSizes)}, ${wearPasses} passes; in place: ${chipText(inPlaceSizes)}.`,
    `Measured vs analytic WA, worst over α: FIFO ${(100 * worst('fifo')).toFixed(2)} %, greedy ${(100 * worst('greedy')).toFixed(2)} %.`,
    `Hot/cold ${Math.round(hot.r * 100)}/${Math.round(hot.f * 100)} at α ${hot.alpha}: lowest WA ${bestHc.result.writeAmplification.toFixed(2)} (${bestHc.label}, ${bestHc.frontiers}), ${(100 * (bestHc.result.writeAmplification / bestOptimum.wa - 1)).toFixed(0)} % above the model's optimal split, ${bestOptimum.wa.toFixed(2)} (α_h ${bestOptimum.alphaHot.toFixed(2)}, α_c ${bestOptimum.alphaCold.toFixed(3)}).`,
    `In place vs log-structured (uniform random): WA ${uniformRows[1]?.wa.toFixed(1)} vs ${uniformRows[0]?.wa.toFixed(2)}.`,
  ];
  const waTable: Table = {
    id: 'wa',
    title: 'Write amplification vs α (uniform random single-page overwrites): measured per victim policy, and the analytic models',
    columns: [{ key: 'policy', label: 'victim policy' }, ...alphaColumns(targetAlphas, 2)],
    rows: [
      ...VICTIM_POLICIES.map((policy) => Object.fromEntries([['policy', policy], ...byPolicy(policy).map((p, i) => [`a${i}`, p.result.writeAmplification])])),
      Object.fromEntries([['policy', 'model: FIFO'], ...byPolicy('fifo').map((p, i) => [`a${i}`, p.model])]),
      Object.fromEntries([['policy', `model: greedy (Np=${np})`], ...byPolicy('greedy').map((p, i) => [`a${i}`, p.model])]),
    ],
    note: `α is the target; the store's α (blocks holding data, not the free reserve) is ${alphas.map((a) => a.toFixed(3)).join(', ')}. Analytic: FIFO α/(α + W0(−α·e^−α)), greedy A_FIFO(kα)/k with k = 1 + 1/(2·Np) (Desnoyers SYSTOR 2012 / TOS 2014), at the store's α.`,
  };
  const errorTable: Table = {
    id: 'wa-error',
    title: 'Measured vs analytic write amplification',
    columns: [{ key: 'policy', label: 'victim policy' }, ...alphaColumns(targetAlphas, 2, '%')],
    rows: (['fifo', 'greedy'] as const).map((policy) =>
      Object.fromEntries([['policy', policy], ...byPolicy(policy).map((p, i) => [`a${i}`, p.model === null ? null : 100 * (p.result.writeAmplification / p.model - 1)])]),
    ),
  };
  const alphaGrid = Array.from({ length: 60 }, (_, i) => Math.min(...points.map((p) => p.result.alpha)) * (1 - i / 59) + Math.max(...points.map((p) => p.result.alpha)) * (i / 59));
  const curve = (label: string, f: (a: number) => number): Series => ({ label, style: 'dashed', points: alphaGrid.map((a): [number, number] => [a, f(a)]) });
  // One panel per comparison: measured policies and the models sit within a percent of each other,
  // so in one panel they would hide each other. Measured runs are markers, models dashed lines.
  const measured = (policy: string, panel: string): Series => ({
    label: `measured: ${policy}`,
    panel,
    style: 'points',
    points: byPolicy(policy).map((p): [number, number] => [p.result.alpha, p.result.writeAmplification]),
  });
  const greedyModel = (panel: string): Series => ({ ...curve(`model: greedy (Np=${np})`, (a) => waGreedy(a, np)), panel });
  const others = VICTIM_POLICIES.filter((policy) => policy !== 'fifo' && policy !== 'greedy');
  const waPlot: Plot = {
    id: 'wa-vs-alpha',
    title: 'Write amplification vs α: measured (markers) against the analytic models (dashed)',
    kind: 'line',
    x: { label: 'α = physical / logical pages' },
    y: { label: 'write amplification', log: true },
    series: [
      measured('fifo', 'FIFO against its model'),
      { ...curve('model: FIFO', waFifo), panel: 'FIFO against its model' },
      measured('greedy', 'greedy against its model and Agarwal–Marrow'),
      greedyModel('greedy against its model and Agarwal–Marrow'),
      { ...curve('Agarwal–Marrow (1+ρ)/2ρ', waAgarwal), panel: 'greedy against its model and Agarwal–Marrow' },
      ...others.map((policy) => measured(policy, 'the other policies, with the greedy model')),
      greedyModel('the other policies, with the greedy model'),
    ],
  };
  const speed: Table = {
    id: 'simulation-speed',
    title: 'Simulated host page writes per second (wall clock, fill and warm-up included)',
    columns: [{ key: 'policy', label: 'victim policy' }, ...alphaColumns(targetAlphas, 0)],
    rows: VICTIM_POLICIES.map((policy) => Object.fromEntries([['policy', policy], ...byPolicy(policy).map((p, i) => [`a${i}`, Math.round(p.writesPerSecond)])])),
    timing: true,
  };
  const hcTable: Table = {
    id: 'hot-cold',
    title: `Hot/cold traffic (${Math.round(hot.r * 100)} % of writes to ${Math.round(hot.f * 100)} % of pages), α ${hot.alpha}`,
    columns: [
      { key: 'policy', label: 'victim policy' },
      { key: 'frontiers', label: 'write frontiers' },
      { key: 'wa', label: 'WA', digits: 3 },
      { key: 'victimValid', label: 'mean victim valid fraction', digits: 3 },
      { key: 'effectiveAlpha', label: 'effective α', digits: 4 },
      { key: 'optimum', label: 'model optimum WA', digits: 3 },
      { key: 'aboveOptimum', label: 'above optimum', unit: '%', digits: 1 },
    ],
    rows: hc.map((run) => {
      const best = optimum(run.result.alpha).wa;
      return {
        policy: run.label,
        frontiers: run.frontiers,
        wa: run.result.writeAmplification,
        victimValid: meanValidFraction(run.result.victimValidHistogram),
        effectiveAlpha: run.result.effectiveAlpha,
        optimum: best,
        aboveOptimum: 100 * (run.result.writeAmplification / best - 1),
      };
    }),
    note: hotColdNote(hc),
  };
  const victimPlot: Plot = {
    id: 'victim-utilisation',
    title: 'How full the victims were (hot/cold)',
    kind: 'line',
    x: { label: 'valid fraction of the victim' },
    y: { label: 'share of victims' },
    series: hc
      .filter((run) => run.label === 'greedy' || run.label === 'cost-benefit')
      .map((run) => ({ label: `${run.label}, ${run.frontiers}`, points: victimShares(run.result.victimValidHistogram).map((s, i): [number, number] => [(i + 0.5) / HISTOGRAM_BINS, s]) })),
    note: 'LFS (§3.6) found cost-benefit cleans cold segments at high utilisation and hot ones nearly empty: a bimodal distribution.',
  };
  const wearTable: Table = {
    id: 'wear',
    title: `Erase counts per block (hot/cold 95/5, greedy; ${chipText(wearSizes)}, α ${hot.alpha}, ${wearPasses} passes)`,
    columns: [
      { key: 'levelling', label: 'wear levelling' },
      { key: 'min', label: 'min' },
      { key: 'max', label: 'max' },
      { key: 'mean', label: 'mean', digits: 1 },
      { key: 'stddev', label: 'std dev', digits: 1 },
      { key: 'staticMoves', label: 'static moves' },
      { key: 'wa', label: 'WA', digits: 3 },
    ],
    rows: wearRuns.map((w) => ({
      levelling: w.label,
      min: w.counts[0] ?? 0,
      max: w.counts[w.counts.length - 1] ?? 0,
      mean: w.counts.reduce((a, b) => a + b, 0) / w.counts.length,
      stddev: stddev(w.counts),
      staticMoves: w.staticMoves,
      wa: w.wa,
    })),
    note: "Static levelling: after an erase, when the most-erased block has the threshold more erases than the least-erased closed block, that block's (cold) data is moved to a frontier on the most-worn free block (MQSim's trigger; the classic destination). Dynamic: the free pool hands out the least-erased block; with a small pool it has little to choose from.",
  };
  const wearPlot: Plot = {
    id: 'erase-counts',
    title: `Erase count per block, sorted (${chipText(wearSizes)}, hot/cold 95/5, ${wearPasses} passes)`,
    kind: 'line',
    x: { label: 'blocks, least erased first' },
    y: { label: 'erases' },
    // One panel per levelling: runs that levelled nothing draw the same curve.
    series: wearRuns.map((w) => ({ label: 'erases', panel: `${w.label}: ${w.staticMoves} static moves, WA ${w.wa.toFixed(2)}`, points: w.counts.map((c, i): [number, number] => [i, c]) })),
  };
  const inPlaceTable: Table = {
    id: 'in-place',
    title: `In place (read-modify-erase-write) vs log-structured, α ${hot.alpha}, ${chipText(inPlaceSizes)}`,
    columns: [
      { key: 'store', label: 'store' },
      { key: 'workload', label: 'workload' },
      { key: 'wa', label: 'WA (programs per host write)', digits: 3 },
      { key: 'erasesPerWrite', label: 'erases per host write', digits: 4 },
      { key: 'busyUsPerWrite', label: 'chip busy time per host write', unit: 'µs', digits: 1 },
      { key: 'energyUjPerWrite', label: 'energy per host write', unit: 'µJ', digits: 2 },
    ],
    rows: inPlace.map((r) => ({ ...r })),
    note: "Busy time and energy: the chip's counted operations during the measured writes, times the cited latencies and power (machine/nand-timing.ts), GC reads and erases included. In place, an update reads the block, erases it and programs it whole; sequential overwrites too, since each page is rewritten after its block was filled.",
  };
  return { answer, summary, tables: [waTable, errorTable, hcTable, wearTable, inPlaceTable, speed], plots: [waPlot, victimPlot, wearPlot] };
}

/**
 * A block trace replayed on the log store (greedy GC) at each α: the trace from its first request on
 * a freshly formatted store, pages mapped modulo the store's logical pages (every trace fits). WA is
 * over the whole replay, cold start included. A trace with no request is an error.
 */
async function replayTrace(
  path: string,
  format: TraceFormat,
  alphas: readonly number[],
  blocks: number,
  pagesPerBlock: number,
  seed: number,
  progress: (done: number, total: number, label: string) => void,
): Promise<ScenarioResult> {
  // Trace files are read with node:fs: loaded here, so the registry stays browser-safe.
  const { openTraceFile } = await import('../../flash/traces/trace-file.ts');
  const rows: Record<string, string | number>[] = [];
  let records = 0;
  alphas.forEach((alpha, i) => {
    progress(i, alphas.length, `trace α=${alpha}`);
    const config: LogStoreConfig = { policy: 'greedy', seed };
    const L = logicalPagesFor(alpha, blocks, pagesPerBlock, config);
    const ftl = gcTestbed(blocks, pagesPerBlock, L, config);
    const reader = openTraceFile(path, format);
    const workload = new TraceWorkload(reader, { logicalPages: L, pageBytes: 4096, mapping: 'modulo' });
    drive(ftl, workload, Infinity);
    if (reader.records === 0) throw new TraceFormatError(path, reader.lineNumber, `no ${format} request in the trace (empty, or headers and comments only)`);
    records = reader.records;
    const programs = ftl.device.programs + ftl.device.copybacks;
    rows.push({ alpha, logicalPages: L, hostWrites: ftl.hostWrites, programs, wa: ftl.hostWrites === 0 ? 0 : programs / ftl.hostWrites, erases: ftl.device.stats().erases });
  });
  progress(alphas.length, alphas.length, 'done');
  const table: Table = {
    id: 'trace',
    title: `Trace ${path} (${format}, ${records} requests) on the log store, greedy GC, ${blocks} blocks × ${pagesPerBlock} pages`,
    columns: [
      { key: 'alpha', label: 'α', digits: 2 },
      { key: 'logicalPages', label: 'logical pages' },
      { key: 'hostWrites', label: 'host page writes' },
      { key: 'programs', label: 'page programs' },
      { key: 'wa', label: 'WA', digits: 3 },
      { key: 'erases', label: 'erases' },
    ],
    rows,
    note: "Pages are mapped to the store's logical pages modulo L (distinct trace pages may share one); WA covers the whole replay from a fresh store.",
  };
  const was = rows.map((r) => `${Number(r.wa).toFixed(2)} at α ${r.alpha}`);
  return {
    answer: `Replaying ${records} requests of ${path} with greedy GC writes ${was.join(', ')} pages per host page.`,
    summary: [`${records} ${format} requests from ${path}; ${blocks} blocks × ${pagesPerBlock} pages; greedy GC.`],
    tables: [table],
    plots: [],
  };
}
