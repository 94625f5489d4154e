/**
 * Worker side of the lock-memory scenario and the lock tests: a CPU that takes one named lock of
 * the sync domain over and over until told to stop (or for `iterations`), and inside it checks
 * mutual exclusion two ways: a stamp (its cpu + 1 written on entry must still be there on exit)
 * and a shared counter incremented with a plain read and write (a lost update shows as a total
 * short of the acquisitions). Mode 'die': takes the lock and parks until terminated. Mode 'serve'
 * (a lab server, worker-thread.ts): runs one contention per job posted to it, each on the job's own
 * arena, and answers each with its report.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { Kernel } from '../../mm/kernel.ts';
import { SyncDomain } from '../../sync/domain.ts';
import type { WaiterPlacement } from '../../sync/types.ts';
import { Ctl, announceCpu, awaitGo, parkForever } from './sync-control.ts';

export interface LockContenderInput {
  buffer: SharedArrayBuffer;
  syncPaddr: number;
  /** This worker's index among the driver's workers (its CPU is the kernel slot it claims). */
  index: number;
  lock: string;
  kind: 'spin' | 'mutex';
  placement: WaiterPlacement;
  control: SharedArrayBuffer;
  /** Stop after this many acquisitions (0: run until STOP). */
  iterations: number;
  /** Loads inside the critical section, and between two of them. */
  csLoads: number;
  outsideLoads: number;
  mode: 'contend' | 'die';
}

/** workerData of a contender that serves jobs (LockContenderInput messages, mode 'contend'). */
export interface LockContenderServe {
  mode: 'serve';
}

export interface LockContenderReport {
  cpu: number;
  acquisitions: number;
  violations: number;
}

/** Attaches to the input's arena as a CPU of its own, takes the lock until told to stop, and reports. */
function contend(input: LockContenderInput): LockContenderReport {
  const kernel = Kernel.attach(input.buffer);
  const sync = SyncDomain.attach(kernel, input.syncPaddr);
  const lock = input.kind === 'spin' ? sync.spinlock(input.lock) : sync.mutex(input.lock, input.placement);
  const control = new Int32Array(input.control);
  announceCpu(control, input.index, sync.cpu);
  const me = sync.cpu + 1;
  const report: LockContenderReport = { cpu: sync.cpu, acquisitions: 0, violations: 0 };

  if (input.mode === 'die') {
    lock.acquire();
    parkForever(control);
  }
  awaitGo(control);
  let sink = 0;
  while (Atomics.load(control, Ctl.STOP) === 0 && (input.iterations === 0 || report.acquisitions < input.iterations)) {
    lock.acquire();
    control[Ctl.STAMP] = me;
    const before = control[Ctl.COUNTER] as number;
    for (let i = 0; i < input.csLoads; i++) sink += control[Ctl.STAMP] as number;
    control[Ctl.COUNTER] = before + 1;
    if (control[Ctl.STAMP] !== me) report.violations++;
    lock.release();
    report.acquisitions++;
    for (let i = 0; i < input.outsideLoads; i++) sink += Atomics.load(control, Ctl.GO);
  }
  if (sink === -1) report.violations = -1;
  return report;
}

const data = workerData as LockContenderInput | LockContenderServe;
if (data.mode === 'serve') {
  parentPort?.on('message', (job: LockContenderInput) => parentPort?.postMessage(contend(job)));
} else {
  parentPort?.postMessage(contend(data));
}
