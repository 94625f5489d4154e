/**
 * The explorer's RCU machine: a kmem kernel (kmalloc caches poisoned, slab_debug=P) with a sync
 * domain of four CPUs, all driven from the page's one thread a step at a time. CPU 0 is the updater:
 * each step it replaces a node of the rcu scenario's read-mostly table (lab/workloads/rcu-table.ts)
 * and retires the old one — with kfreeRcu (QSBR RCU, src/sync/rcu.ts) or, for contrast, kfree at
 * once — then polls. CPUs 1–3 are readers: each takes a pointer to a bucket's first node inside a
 * read-side section that lasts a few steps (then idles up to two), checks the node when the section ends (its magic and
 * key: a freed node shows the slab's poison, a reused one another key), and reports a quiescent
 * state. A stalled reader stays in its section until released, and holds up every grace period.
 *
 * The per-CPU counter words, grace periods and pending frees are the sync domain's own, in the
 * arena; the lab only schedules the CPUs and keeps a history for the timeline.
 */
import { Kernel } from '../../mm/kernel.ts';
import { SlabFlag } from '../../mm/slab/layout.ts';
import { SyncDomain } from '../../sync/domain.ts';
import { Rcu } from '../../sync/rcu.ts';
import type { RcuStats } from '../../sync/rcu.ts';
import { Prng } from '../../util/prng.ts';
import { NODE_MAGIC, RcuTable } from '../workloads/rcu-table.ts';

export const READERS = 3;
/** What a reader CPU did in a step (the timeline's cells). */
export const ReaderState = { Quiescent: 0, Reading: 1, Stalled: 2, UseAfterFree: 3 } as const;
export type ReaderState = (typeof ReaderState)[keyof typeof ReaderState];
export const READER_STATE_NAMES: readonly string[] = ['quiescent', 'in a read-side section', 'stalled in a read-side section', 'read a freed node'];

export type RetireMode = 'kfree_rcu' | 'kfree at once';

export interface StepRecord {
  readers: ReaderState[];
  /** Grace periods that completed in this step (as the updater's stats count them). */
  gpCompleted: number;
  /** kfree_rcu objects waiting after this step. */
  pending: number;
}

interface Reader {
  rcu: Rcu;
  /** The node held and its key, or 0 outside a section. */
  node: number;
  key: number;
  stepsLeft: number;
  /** Steps to stay quiescent before the next section. */
  idle: number;
  stalled: boolean;
}

const BUCKETS = 4;
const CHAIN = 4;
/** The timeline keeps this many steps. */
export const HISTORY_STEPS = 160;
/** Word of a node holding its key (rcu-table.ts: [0] magic, [1] key, …). */
const NODE_KEY_WORD = 1;

export class RcuLab {
  readonly kernel: Kernel;
  readonly domain: SyncDomain;
  readonly updater: Rcu;
  readonly readers: Reader[];
  readonly table: RcuTable;
  readonly history: StepRecord[] = [];
  mode: RetireMode = 'kfree_rcu';
  steps = 0;
  /** Nodes readers found freed or reused at the end of their section. */
  useAfterFree = 0;
  sectionsChecked = 0;
  private readonly w: Int32Array;
  private readonly rng: Prng;

  constructor(seed: number) {
    this.rng = new Prng(seed);
    this.kernel = Kernel.boot({ ramBytes: '32MiB', cpus: READERS + 1, slab: { debugFlags: SlabFlag.POISON } });
    this.domain = SyncDomain.create(this.kernel, { cpu: 0, stallTimeoutMs: 1500 });
    this.updater = new Rcu(this.domain, 'qsbr');
    this.readers = Array.from({ length: READERS }, (_, i) => ({ rcu: new Rcu(SyncDomain.attach(this.kernel, this.domain.paddr, i + 1), 'qsbr'), node: 0, key: 0, stepsLeft: 0, idle: 0, stalled: false }));
    this.table = RcuTable.create(this.kernel, BUCKETS, CHAIN);
    this.w = new Int32Array(this.kernel.ram.buffer);
  }

  /** One step: each reader advances, then the updater replaces a node, retires the old one and polls. */
  step(): StepRecord {
    const states = this.readers.map((r) => this.advance(r));
    const before = this.updater.stats().gpCompleted;
    const old = this.table.replace(this.rng.int(BUCKETS), 0);
    if (this.mode === 'kfree_rcu') this.updater.kfreeRcu(old);
    else this.kernel.kfree(old);
    this.updater.poll();
    const after = this.updater.stats();
    const record = { readers: states, gpCompleted: after.gpCompleted - before, pending: after.kfreePending.objects };
    this.history.push(record);
    if (this.history.length > HISTORY_STEPS) this.history.shift();
    this.steps++;
    return record;
  }

  /** Stalls reader `i` in its next (or current) section, or lets it finish. */
  setStalled(i: number, stalled: boolean): void {
    const r = this.readers[i];
    if (r !== undefined) r.stalled = stalled;
  }

  stats(): RcuStats {
    return this.updater.stats();
  }

  /** The checks of the kernel, the sync domain and the table (a section in progress holds no lock). */
  validate(): void {
    this.kernel.validate();
    this.domain.validate();
    this.table.validate();
  }

  private advance(r: Reader): ReaderState {
    if (r.node === 0 && r.idle > 0 && !r.stalled) {
      r.idle--;
      r.rcu.quiescentState();
      return ReaderState.Quiescent;
    }
    if (r.node === 0) {
      // A new section: take the pointer to a bucket's first node, as a lock-free lookup would.
      r.rcu.readLock();
      r.node = Atomics.load(this.w, this.table.headsPaddr / 4 + this.rng.int(BUCKETS));
      r.key = this.w[r.node / 4 + NODE_KEY_WORD] as number;
      r.stepsLeft = 1 + this.rng.int(4);
      return r.stalled ? ReaderState.Stalled : ReaderState.Reading;
    }
    if (r.stalled) return ReaderState.Stalled;
    if (--r.stepsLeft > 0) return ReaderState.Reading;
    // The section ends: use the node held all along, then leave and report a quiescent state.
    const n = r.node / 4;
    const good = this.w[n] === NODE_MAGIC && this.w[n + NODE_KEY_WORD] === r.key;
    this.sectionsChecked++;
    if (!good) this.useAfterFree++;
    r.node = 0;
    r.idle = this.rng.int(3);
    r.rcu.readUnlock();
    r.rcu.quiescentState();
    return good ? ReaderState.Reading : ReaderState.UseAfterFree;
  }
}
