/**
 * Driving a page store with a workload, and the steady-state write-amplification protocol the
 * analytic models are checked against:
 *
 *   1. a chip of B blocks of Np pages that keeps no page data, the store formatted on it with
 *      L = round((B − R)·Np / α) logical pages, R its low watermark (the free blocks GC keeps:
 *      reserveBlocks), so the actual α = (B − R)·Np / L (Desnoyers' convention: the reserve is not
 *      part of the log). Background GC keeps more blocks free than R on average: the result also
 *      gives the effective α, (B − mean free blocks)·Np / L, sampled during the measurement;
 *   2. fill: one sequential pass over the L pages;
 *   3. warm-up: `warmupPasses` · L writes of the workload (4 passes: the age wave left by the fill
 *      takes about 3.5 L writes to die down at α = 2);
 *   4. measure `measurePasses` · L writes: WA = Δ(programs + copy-backs) / Δ(host writes), read
 *      from the chip's counters.
 */
import { NandDevice } from '../machine/nand.ts';
import type { NandTiming, NandTimingName } from '../machine/nand-timing.ts';
import { ArgumentError } from '../util/errors.ts';
import { PageFtl } from './ftl.ts';
import { resolveLogConfig } from './log-store.ts';
import type { GcStats, LogStoreConfig } from './log-store.ts';
import { OpBatch, OpKind, SequentialWorkload, UniformWorkload } from './workload.ts';
import type { Workload } from './workload.ts';

/** What drive() needs of a store of logical pages. */
export interface PageStore {
  readonly logicalPages: number;
  write(lpn: number, data?: Uint8Array | null, temperature?: number): void;
  read(lpn: number, out?: Uint8Array | null): boolean;
  trim(lpn: number, count?: number): void;
  /** Background work between requests (GC); returns how much it did. */
  idle?(maxVictims?: number): number;
}

export interface DriveOptions {
  /** Give the store idle time (one background GC victim) every this many operations (0: never). */
  idleEvery?: number;
  /** Called after each batch of operations. */
  afterBatch?: () => void;
}

/** Runs `ops` operations of `workload` on `store`; returns how many ran (fewer if the workload ended). */
export function drive(store: PageStore, workload: Workload, ops: number, batch: OpBatch = new OpBatch(), options: DriveOptions = {}): number {
  const idleEvery = options.idleEvery ?? 0;
  let done = 0;
  while (done < ops) {
    const n = workload.next(batch);
    if (n === 0) break;
    const take = Math.min(n, ops - done);
    const kinds = batch.kind;
    const lpns = batch.lpn;
    const temps = batch.temperature;
    for (let i = 0; i < take; i++) {
      const kind = kinds[i] as number;
      if (kind === OpKind.Write) store.write(lpns[i] as number, null, temps[i] as number);
      else if (kind === OpKind.Read) store.read(lpns[i] as number, null);
      else store.trim(lpns[i] as number, 1);
      if (idleEvery > 0 && (done + i + 1) % idleEvery === 0) store.idle?.(1);
    }
    done += take;
    options.afterBatch?.();
  }
  return done;
}

export interface SteadyStateOptions {
  policy: LogStoreConfig['policy'];
  /** Target α = physical / logical pages; the store's actual α is reported. */
  alpha: number;
  pagesPerBlock: number;
  blocks: number;
  warmupPasses?: number;
  measurePasses?: number;
  seed?: number;
  /** Further store settings (streams, GC frontier, watermarks, wear levelling, …). */
  store?: Omit<LogStoreConfig, 'policy'>;
  /** The workload over L pages (default uniform random). */
  workload?: (logicalPages: number, seed: number) => Workload;
  timing?: NandTimingName | NandTiming;
  /** Give the store idle time every this many operations (background GC). */
  idleEvery?: number;
  /** Called between phases, for progress. */
  onPhase?: (phase: 'fill' | 'warm-up' | 'measure') => void;
}

export interface SteadyStateResult {
  policy: string;
  /** (B − R)·Np / L, the α the models take. */
  alpha: number;
  /** (B − mean free blocks)·Np / L over the measurement: above R free blocks (background GC), the
   * log holds less than α says. */
  effectiveAlpha: number;
  logicalPages: number;
  hostWrites: number;
  programs: number;
  writeAmplification: number;
  /** Chip erases, busy time and energy during the measurement. */
  erases: number;
  busyNs: number;
  energyNj: number;
  /** Victims cleaned during the measurement, by valid pages. */
  victimValidHistogram: number[];
  ftl: PageFtl;
  device: NandDevice;
}

/** The free blocks a page store with `config` keeps in reserve (its low watermark, as resolved):
 * what α does not count. */
function reserveBlocks(config: LogStoreConfig = {}): number {
  return resolveLogConfig(config).lowWatermark;
}

/** L for a target α on B blocks of Np pages, less the reserve of a store with `config`. */
export function logicalPagesFor(alpha: number, blocks: number, pagesPerBlock: number, config: LogStoreConfig = {}): number {
  if (!(alpha > 1)) throw new ArgumentError(`α = ${alpha}: expected more physical than logical pages (α > 1)`);
  return Math.round(((blocks - reserveBlocks(config)) * pagesPerBlock) / alpha);
}

/** A fresh chip that keeps no page data, with a store of L logical pages formatted on it. */
export function gcTestbed(blocks: number, pagesPerBlock: number, logicalPages: number, config: LogStoreConfig, timing?: NandTimingName | NandTiming): PageFtl {
  const device = NandDevice.create({ geometry: { blocks, pagesPerBlock, pageBytes: 4096, spareBytes: 16 }, storePayload: false, ...(timing === undefined ? {} : { timing }) });
  return PageFtl.format(device, { ...config, logicalPages });
}

export function measureSteadyState(options: SteadyStateOptions): SteadyStateResult {
  const seed = options.seed ?? 1;
  const config: LogStoreConfig = { ...options.store, policy: options.policy, seed };
  const reserve = reserveBlocks(config);
  const L = logicalPagesFor(options.alpha, options.blocks, options.pagesPerBlock, config);
  const ftl = gcTestbed(options.blocks, options.pagesPerBlock, L, config, options.timing);
  const device = ftl.device;
  const batch = new OpBatch();
  const driveOptions = { idleEvery: options.idleEvery ?? 0 };
  options.onPhase?.('fill');
  drive(ftl, new SequentialWorkload(L), L, batch);
  const workload = (options.workload ?? ((pages, s) => new UniformWorkload(pages, s)))(L, seed);
  options.onPhase?.('warm-up');
  drive(ftl, workload, Math.round((options.warmupPasses ?? 4) * L), batch, driveOptions);
  const hostBefore = ftl.hostWrites;
  const programsBefore = device.programs + device.copybacks;
  const histBefore = ftl.gcStats().victimValidHistogram;
  const chipBefore = device.stats();
  options.onPhase?.('measure');
  let freeSum = 0;
  let samples = 0;
  const afterBatch = (): void => {
    freeSum += ftl.table.nrFree + ftl.table.nrBad;
    samples++;
  };
  drive(ftl, workload, Math.round((options.measurePasses ?? 4) * L), batch, { ...driveOptions, afterBatch });
  const hostWrites = ftl.hostWrites - hostBefore;
  const programs = device.programs + device.copybacks - programsBefore;
  const gc: GcStats = ftl.gcStats();
  const chipAfter = device.stats();
  return {
    policy: options.policy ?? 'greedy',
    alpha: ((options.blocks - reserve) * options.pagesPerBlock) / L,
    effectiveAlpha: ((options.blocks - (samples === 0 ? reserve : freeSum / samples)) * options.pagesPerBlock) / L,
    logicalPages: L,
    hostWrites,
    programs,
    writeAmplification: programs / hostWrites,
    erases: chipAfter.erases - chipBefore.erases,
    busyNs: chipAfter.busyNs - chipBefore.busyNs,
    energyNj: chipAfter.energyNj - chipBefore.energyNj,
    victimValidHistogram: gc.victimValidHistogram.map((n, i) => n - (histBefore[i] ?? 0)),
    ftl,
    device,
  };
}
