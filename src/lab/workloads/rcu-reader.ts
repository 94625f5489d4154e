/**
 * Worker side of the rcu scenario and tests: a reader CPU walking an RcuTable without locks until
 * told to stop, inside RCU read sections of its flavour ('none': no RCU, for the immediate-free
 * run), reporting a quiescent state every QS_EVERY reads. Modes: 'read'; 'stall' (after
 * `stallAfterReads` reads, stays inside one read section for `stallMs`); 'die' (parks inside a read
 * section until terminated). With workerData { mode: 'serve' } (a lab server, worker-thread.ts) it
 * runs one reader per job posted to it, each on the job's own arena, and answers with its report.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { Kernel } from '../../mm/kernel.ts';
import { SyncDomain } from '../../sync/domain.ts';
import { Rcu } from '../../sync/rcu.ts';
import { Prng } from '../../util/prng.ts';
import { RcuTable } from './rcu-table.ts';
import { Ctl, announceCpu, awaitGo, parkForever } from './sync-control.ts';

export interface RcuReaderInput {
  buffer: SharedArrayBuffer;
  syncPaddr: number;
  /** This worker's index among the driver's workers (its CPU is the kernel slot it claims). */
  index: number;
  flavour: 'qsbr' | 'epoch' | 'none';
  heads: number;
  buckets: number;
  chain: number;
  control: SharedArrayBuffer;
  seed: number;
  mode: 'read' | 'stall' | 'die';
  stallAfterReads?: number;
  stallMs?: number;
  /** Loads of work per node held (RcuTable.read). */
  useLoads: number;
}

export interface RcuReaderReport {
  cpu: number;
  reads: number;
  nodes: number;
  poisonHits: number;
  reusedHits: number;
}

/** workerData of a reader that serves jobs (RcuReaderInput messages). */
export interface RcuReaderServe {
  mode: 'serve';
}

const QS_EVERY = 16;

/** Attaches to the input's arena as a CPU of its own, reads until told to stop, and reports. */
function readUntilStopped(input: RcuReaderInput): RcuReaderReport {
  const kernel = Kernel.attach(input.buffer);
  const sync = SyncDomain.attach(kernel, input.syncPaddr);
  const rcu = input.flavour === 'none' ? null : new Rcu(sync, input.flavour);
  const table = new RcuTable(kernel, input.heads, input.buckets, input.chain);
  const control = new Int32Array(input.control);
  announceCpu(control, input.index, sync.cpu);
  const prng = new Prng(input.seed);
  const report: RcuReaderReport = { cpu: sync.cpu, reads: 0, nodes: 0, poisonHits: 0, reusedHits: 0 };

  awaitGo(control);
  const stallAt = input.mode === 'read' ? -1 : (input.stallAfterReads ?? 0);
  while (Atomics.load(control, Ctl.STOP) === 0) {
    for (let i = 0; i < QS_EVERY; i++) {
      rcu?.readLock();
      const r = table.read(prng.int(input.buckets), input.useLoads);
      if (report.reads === stallAt) {
        if (input.mode === 'die') parkForever(control);
        Atomics.add(control, Ctl.PARKED, 1);
        Atomics.wait(control, Ctl.STOP, 0, input.stallMs ?? 0);
      }
      rcu?.readUnlock();
      report.reads++;
      report.nodes += r.nodes;
      if (r.useSum === -1) report.nodes = -1;
      report.poisonHits += r.poisonHits;
      report.reusedHits += r.reusedHits;
    }
    rcu?.quiescentState();
  }
  rcu?.threadOffline();
  return report;
}

const data = workerData as RcuReaderInput | RcuReaderServe;
if (data.mode === 'serve') {
  parentPort?.on('message', (job: RcuReaderInput) => parentPort?.postMessage(readUntilStopped(job)));
} else {
  parentPort?.postMessage(readUntilStopped(data));
}
