/**
 * One lock experiment: a fresh kernel and sync domain, `workers` contender workers (lock-contender.ts)
 * taking one lock for `durationMs` (or `iterations` each), then the lock's statistics, the workers'
 * reports and what the waiters cost in kernel memory. Used by the lock-memory scenario and tests.
 *
 * With a ContenderPool the contenders are lab servers kept from one run to the next: each run still
 * boots its own kernel and sync domain, the pool's first `workers` servers attach to it as that
 * many CPUs, and their CPUs are offlined once they have reported (as a worker's exit does without a
 * pool). The lock-memory scenario's twelve runs start 8 workers instead of 45.
 */
import { Kernel } from '../../mm/kernel.ts';
import { SyncDomain } from '../../sync/domain.ts';
import type { LockStats } from '../../sync/domain.ts';
import { Q_BYTES } from '../../sync/types.ts';
import type { WaiterPlacement } from '../../sync/types.ts';
import { LabServerPool, startLabWorker, waitForWord } from '../worker-thread.ts';
import type { LockContenderInput, LockContenderReport, LockContenderServe } from './lock-contender.ts';
import { Ctl, go, newControl, offlineWorker } from './sync-control.ts';

export interface LockRunOptions {
  kind: 'spin' | 'mutex';
  placement: WaiterPlacement;
  workers: number;
  durationMs: number;
  iterations?: number;
  csLoads: number;
  outsideLoads: number;
}

export interface LockRunResult {
  reports: LockContenderReport[];
  stats: LockStats;
  counter: number;
  elapsedMs: number;
  /** Bytes of waiter records allocated per wait at the peak (slab placement; 0 on the stack). */
  waiterBytesPeak: number;
  /** Bytes of slab pages the futex_q cache held after the run (slab placement). */
  futexQSlabBytes: number;
  /** The fixed per-CPU waiter records (stack placement's whole cost, paid at boot). */
  stackRecordBytes: number;
  /** Fairness: fewest acquisitions of one worker ÷ most. */
  fairness: number;
}

const CONTENDER = new URL('./lock-contender.ts', import.meta.url);

/** Contender workers kept for several runs (see the opening comment). close() when done. */
export class ContenderPool extends LabServerPool<LockContenderInput, LockContenderReport> {
  constructor() {
    const serve: LockContenderServe = { mode: 'serve' };
    super(CONTENDER, serve);
  }
}

export async function runLockContention(options: LockRunOptions, pool?: ContenderPool): Promise<LockRunResult> {
  const kernel = Kernel.boot({ ramBytes: '16MiB', shared: true, cpus: options.workers + 1 });
  const sync = SyncDomain.create(kernel);
  const name = `${options.kind}-${options.placement}`;
  const lock = options.kind === 'spin' ? sync.spinlock(name) : sync.mutex(name, options.placement);
  const control = newControl();
  const servers = pool?.servers(options.workers);
  const workers = Array.from({ length: options.workers }, (_, i) => {
    const input: LockContenderInput = {
      buffer: kernel.buffer as SharedArrayBuffer,
      syncPaddr: sync.paddr,
      index: i,
      lock: name,
      kind: options.kind,
      placement: options.placement,
      control: control.buffer as SharedArrayBuffer,
      iterations: options.iterations ?? 0,
      csLoads: options.csLoads,
      outsideLoads: options.outsideLoads,
      mode: 'contend',
    };
    const server = servers?.[i];
    if (server !== undefined) return { report: server.request(input) };
    return startLabWorker<LockContenderReport>(CONTENDER, input, () => offlineWorker(kernel, control, i));
  });
  await waitForWord(control, Ctl.READY, options.workers);
  const start = performance.now();
  go(control);
  if (options.iterations === undefined) {
    await new Promise((resolve) => setTimeout(resolve, options.durationMs));
    Atomics.store(control, Ctl.STOP, 1);
  }
  const reports = await Promise.all(workers.map((w) => w.report));
  const elapsedMs = performance.now() - start;
  const stats = sync.lockStats(lock.index);
  const futexQ = kernel.slab.stats().caches.find((c) => c.name === 'futex_q');
  // A pool's workers stay alive: their CPUs go offline here, as an exited worker's do.
  if (servers !== undefined) for (let i = 0; i < options.workers; i++) offlineWorker(kernel, control, i);
  sync.validate();
  kernel.validate();
  const counts = reports.map((r) => r.acquisitions);
  return {
    reports,
    stats,
    counter: control[Ctl.COUNTER] as number,
    elapsedMs,
    waiterBytesPeak: options.placement === 'slab' && options.kind === 'mutex' ? stats.sleepersMax * Q_BYTES : 0,
    futexQSlabBytes: (futexQ?.pages ?? 0) * 4096,
    stackRecordBytes: sync.cpus * Q_BYTES,
    fairness: Math.min(...counts) / Math.max(1, ...counts),
  };
}
