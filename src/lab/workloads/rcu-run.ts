/**
 * One RCU experiment: a fresh kernel (kmalloc caches poisoned, slab_debug=P) and sync domain, an
 * RcuTable, `readers` reader workers (rcu-reader.ts), and the updater on this thread replacing
 * nodes: each old node freed at once ('immediate') or through kfreeRcu of a flavour. Samples of the
 * memory waiting for a grace period are taken as the updates go. Used by the rcu scenario and tests.
 */
import { Kernel } from '../../mm/kernel.ts';
import { SlabFlag } from '../../mm/slab/layout.ts';
import { SyncDomain } from '../../sync/domain.ts';
import { Rcu } from '../../sync/rcu.ts';
import type { RcuStall } from '../../sync/rcu.ts';
import { Prng } from '../../util/prng.ts';
import { LabServerPool, startLabWorker, waitForWord } from '../worker-thread.ts';
import type { RcuReaderInput, RcuReaderReport, RcuReaderServe } from './rcu-reader.ts';
import { RcuTable } from './rcu-table.ts';
import { Ctl, go, newControl, offlineWorker } from './sync-control.ts';

export type RcuMode = 'immediate' | 'qsbr' | 'epoch';

export interface RcuRunOptions {
  mode: RcuMode;
  readers: number;
  updates: number;
  seed: number;
  buckets?: number;
  chain?: number;
  /** Updates between two polls of RCU (closing a kfree_rcu batch). */
  pollEvery?: number;
  /** Updates between two samples of the memory waiting. */
  sampleEvery?: number;
  /** One reader stalls inside a read section after this many reads, for stallMs. */
  stall?: { afterReads: number; ms: number };
  stallTimeoutMs?: number;
  /** Loads of reader work per node it holds. Default 64. */
  useLoads?: number;
  /** Loads the updater spends between two updates (its other work: the table is read-mostly). Default 64. */
  gapLoads?: number;
}

export interface RcuSample {
  update: number;
  ms: number;
  pendingObjects: number;
  pendingBytes: number;
}

export interface RcuRunResult {
  readers: RcuReaderReport[];
  reads: number;
  poisonHits: number;
  reusedHits: number;
  elapsedMs: number;
  samples: RcuSample[];
  gpLatencyMs: number[];
  stalls: RcuStall[];
  freed: number;
  pendingPeakBytes: number;
}

const READER = new URL('./rcu-reader.ts', import.meta.url);

/**
 * Reader workers kept for several experiments (lab servers): each experiment still boots its own
 * kernel, and offlines the readers' CPUs once they have reported, as their exit does without a
 * pool. The rcu scenario's five runs start 2 readers instead of 10. close() when done.
 */
export class ReaderPool extends LabServerPool<RcuReaderInput, RcuReaderReport> {
  constructor() {
    const serve: RcuReaderServe = { mode: 'serve' };
    super(READER, serve);
  }
}

export async function runRcuExperiment(options: RcuRunOptions, pool?: ReaderPool): Promise<RcuRunResult> {
  const buckets = options.buckets ?? 64;
  const chain = options.chain ?? 4;
  const kernel = Kernel.boot({ ramBytes: '64MiB', shared: true, cpus: options.readers + 1, slab: { debugFlags: SlabFlag.POISON } });
  const sync = SyncDomain.create(kernel, { stallTimeoutMs: options.stallTimeoutMs ?? 21_000 });
  const stalls: RcuStall[] = [];
  const rcu = options.mode === 'immediate' ? null : new Rcu(sync, options.mode, { onStall: (s) => stalls.push(s) });
  const table = RcuTable.create(kernel, buckets, chain);
  const control = newControl();
  const servers = pool?.servers(options.readers);
  const readers = Array.from({ length: options.readers }, (_, i) => {
    const input: RcuReaderInput = {
      buffer: kernel.buffer as SharedArrayBuffer,
      syncPaddr: sync.paddr,
      index: i,
      flavour: options.mode === 'immediate' ? 'none' : options.mode,
      heads: table.headsPaddr,
      buckets,
      chain,
      control: control.buffer as SharedArrayBuffer,
      seed: options.seed + i + 1,
      mode: options.stall !== undefined && i === 0 ? 'stall' : 'read',
      stallAfterReads: options.stall?.afterReads ?? 0,
      stallMs: options.stall?.ms ?? 0,
      useLoads: options.useLoads ?? 64,
    };
    const server = servers?.[i];
    if (server !== undefined) return { report: server.request(input) };
    return startLabWorker<RcuReaderReport>(READER, input, () => offlineWorker(kernel, control, i));
  });
  await waitForWord(control, Ctl.READY, options.readers);
  const prng = new Prng(options.seed);
  const pollEvery = options.pollEvery ?? 64;
  const sampleEvery = options.sampleEvery ?? Math.max(1, Math.floor(options.updates / 200));
  const samples: RcuSample[] = [];
  let pendingPeakBytes = 0;
  const gapLoads = options.gapLoads ?? 64;
  let sink = 0;
  const start = performance.now();
  go(control);
  for (let u = 1; u <= options.updates; u++) {
    for (let i = 0; i < gapLoads; i++) sink += Atomics.load(control, Ctl.STOP);
    const old = table.replace(prng.int(buckets), prng.int(chain));
    if (rcu === null) kernel.kfree(old);
    else rcu.kfreeRcu(old);
    if (rcu !== null && u % pollEvery === 0) rcu.poll();
    if (u % sampleEvery === 0) {
      const pending = rcu?.stats().kfreePending ?? { objects: 0, bytes: 0 };
      pendingPeakBytes = Math.max(pendingPeakBytes, pending.bytes);
      samples.push({ update: u, ms: performance.now() - start, pendingObjects: pending.objects, pendingBytes: pending.bytes });
    }
  }
  Atomics.store(control, Ctl.STOP, 1 + (sink & 0));
  Atomics.notify(control, Ctl.STOP);
  const reports = await Promise.all(readers.map((r) => r.report));
  const elapsedMs = performance.now() - start;
  // A pool's readers stay alive: their CPUs go offline here, as an exited worker's do.
  if (servers !== undefined) for (let i = 0; i < options.readers; i++) offlineWorker(kernel, control, i);
  await rcu?.drain();
  table.validate();
  table.destroy();
  sync.validate();
  kernel.validate();
  const stats = rcu?.stats();
  return {
    readers: reports,
    reads: reports.reduce((n, r) => n + r.reads, 0),
    poisonHits: reports.reduce((n, r) => n + r.poisonHits, 0),
    reusedHits: reports.reduce((n, r) => n + r.reusedHits, 0),
    elapsedMs,
    samples,
    gpLatencyMs: stats?.gpLatencyMs ?? [],
    stalls,
    freed: stats?.kfreeFreed ?? options.updates,
    pendingPeakBytes,
  };
}
