/**
 * RCU for the workers of a sync domain: readers run without locks; an updater unlinks an object,
 * then frees it only after a grace period, once no reader can still hold it.
 *
 *   const rcu = new Rcu(sync, 'qsbr');            // or 'epoch'; one per worker and flavour
 *   rcu.readLock(); const p = read(head); …; rcu.readUnlock(); rcu.quiescentState();
 *   replace(head, copy); rcu.kfreeRcu(old);        // freed after a grace period, in batches
 *   await rcu.synchronize();                       // or callRcu(fn); poll() runs what is due
 *
 * Work is driven by poll(): it closes the current batch (callRcu callbacks and the open kfree_rcu
 * block) under one new grace-period cookie, runs what is due, and checks for stalls. A grace
 * period that waits longer than the domain's stall timeout raises an RCU-stall warning naming the
 * CPUs that hold it up (Linux: kernel/rcu/tree_stall.h, "rcu: INFO: rcu_sched detected stalls on
 * CPUs/tasks"), once per timeout. An offlined CPU never holds a grace period up; offlining adopts
 * its kfree_rcu blocks into the offlining CPU's chain.
 */
import type { SyncDomain } from './domain.ts';
import { RcuTimeoutError, RcuUsageError } from './errors.ts';
import { EpochFlavour } from './rcu-epoch.ts';
import type { RcuFlavour, RcuFlavourName } from './rcu-flavour.ts';
import { KfreeBatcher } from './rcu-kfree.ts';
import type { KfreePending } from './rcu-kfree.ts';
import { QsbrFlavour } from './rcu-qsbr.ts';
import { CPU_KFREE_EPOCH, CPU_KFREE_QSBR, KfreeKind } from './types.ts';

export interface RcuStall {
  flavour: RcuFlavourName;
  cookie: number;
  /** CPUs holding the grace period up when the warning fired. */
  cpus: number[];
  waitedMs: number;
  pending: KfreePending;
  message: string;
}

export interface RcuStats {
  flavour: RcuFlavourName;
  counter: number;
  gpStarted: number;
  gpCompleted: number;
  /** callRcu callbacks of this worker not yet run. */
  callbacksPending: number;
  /** kfree_rcu objects and bytes waiting for a grace period, over every CPU. */
  kfreePending: KfreePending;
  kfreeFreed: number;
  stalls: number;
  lastStall: string | null;
  /** Start-to-completion of grace periods this worker waited for, as seen by poll (ms; the last 4096). */
  gpLatencyMs: number[];
}

export interface RcuOptions {
  /** Called when an RCU-stall warning fires. Default: none (warnings are kept in stats()). */
  onStall?: (stall: RcuStall) => void;
}

interface Batch {
  cookie: number;
  startedMs: number;
  callbacks: (() => void)[];
}

const LATENCY_SAMPLES = 4096;
/** Bound on a blocking synchronize's poll loop between looks at the clock. */
const SPIN_BETWEEN_CHECKS = 1024;

export class Rcu {
  /**
   * Declared, not defined, so that the constructor's assignment is the field's only store: with
   * the ES2022 [[Define]] semantics of class fields a defined field starts as undefined, and the
   * later store makes V8 treat it as mutable and of any type. Assigned once, it is a constant field
   * of a known class, so optimised code that holds an Rcu reaches its flavour without a load or a
   * map check (the QSBR read side, measured with npm run bench: 2.32× → 1.99× an empty loop).
   */
  declare readonly flavour: RcuFlavour;
  private readonly kfree: KfreeBatcher;
  private next: (() => void)[] = [];
  private readonly batches: Batch[] = [];
  /** The first time each kfree cookie was seen waiting (for latency and stall checks). */
  private readonly kfreeSince = new Map<number, number>();
  private gpStarted = 0;
  private gpCompleted = 0;
  private kfreeFreed = 0;
  private readonly stalls: RcuStall[] = [];
  private lastStallAt = 0;
  private readonly latencies: number[] = [];

  constructor(
    readonly domain: SyncDomain,
    kind: RcuFlavourName,
    private readonly options: RcuOptions = {},
  ) {
    this.flavour = kind === 'qsbr' ? new QsbrFlavour(domain) : new EpochFlavour(domain);
    this.kfree = new KfreeBatcher(domain, kind === 'qsbr' ? CPU_KFREE_QSBR : CPU_KFREE_EPOCH);
    this.flavour.online();
    domain.onOffline((cpu, report) => {
      report.kfreeAdopted += this.kfree.adopt(cpu, this.startKfreeGp(performance.now()));
    });
  }

  readLock(): void {
    this.flavour.readLock();
  }

  readUnlock(): void {
    this.flavour.readUnlock();
  }

  quiescentState(): void {
    this.flavour.quiescentState();
  }

  /** This CPU stops taking part (idle, exiting): it holds up no grace period until online(). */
  threadOffline(): void {
    this.flavour.offline();
  }

  threadOnline(): void {
    this.flavour.online();
  }

  private startGp(): number {
    this.gpStarted++;
    return this.flavour.startGp();
  }

  /** A cookie for kfree_rcu blocks closed now (remembered for latency and stall checks). */
  private startKfreeGp(now: number): number {
    const cookie = this.startGp();
    if (!this.kfreeSince.has(cookie)) this.kfreeSince.set(cookie, now);
    return cookie;
  }

  /** Runs `fn` in this worker after a grace period (at a later poll()). */
  callRcu(fn: () => void): void {
    this.next.push(fn);
  }

  /** kfree(addr) after a grace period, batched in page-sized blocks of addresses. */
  kfreeRcu(addr: number): void {
    this.kfree.add(addr, this.domain.kernel.ksize(addr), () => this.startKfreeGp(performance.now()));
  }

  /**
   * Gives the page block (`pfn`, `order`) back to the buddy allocator after a grace period, batched
   * with kfreeRcu's blocks. This is what a SLAB_TYPESAFE_BY_RCU cache does with an empty slab: its
   * pages wait a grace period (a reader may still be looking at an object in them), while objects
   * freed into the slab are reused at once.
   */
  freePagesRcu(pfn: number, order: number): void {
    if (!Number.isInteger(pfn) || pfn < 0 || pfn >= 1 << 24 || !Number.isInteger(order) || order < 0 || order > 10) {
      throw new RcuUsageError(`freePagesRcu: pfn ${pfn}, order ${order}: expected a pfn below 2^24 and an order in [0, 10]`);
    }
    this.kfree.add(pfn | (order << 24), 4096 << order, () => this.startKfreeGp(performance.now()), KfreeKind.Pages);
  }

  /** Makes this RCU the grace-period hook of this worker's SLAB_TYPESAFE_BY_RCU caches (their empty slab pages). */
  serveTypesafeSlabs(): void {
    this.domain.kernel.slab.deferSlabPages = (pfn, order) => this.freePagesRcu(pfn, order);
  }

  /** Closes the current batch, runs what is due, checks for stalls; returns callbacks and objects done. */
  poll(): number {
    const now = performance.now();
    let cookie = 0;
    if (this.next.length > 0 || this.kfree.hasOpen) {
      cookie = this.startGp();
      if (this.next.length > 0) {
        this.batches.push({ cookie, startedMs: now, callbacks: this.next });
        this.next = [];
      }
      if (this.kfree.hasOpen) {
        this.kfree.close(cookie);
        if (!this.kfreeSince.has(cookie)) this.kfreeSince.set(cookie, now);
      }
    }
    let done = 0;
    while (this.batches.length > 0) {
      const batch = this.batches[0] as Batch;
      if (!this.flavour.gpDone(batch.cookie)) break;
      this.batches.shift();
      this.completed(now - batch.startedMs);
      for (const fn of batch.callbacks) fn();
      done += batch.callbacks.length;
    }
    const freed = this.kfree.reclaim((c) => this.flavour.gpDone(c));
    if (freed > 0) {
      this.kfreeFreed += freed;
      for (const [c, since] of this.kfreeSince) {
        if (this.flavour.gpDone(c)) {
          this.completed(now - since);
          this.kfreeSince.delete(c);
        }
      }
    }
    this.checkStall(now);
    return done + freed;
  }

  private completed(latencyMs: number): void {
    this.gpCompleted++;
    if (this.latencies.length >= LATENCY_SAMPLES) this.latencies.shift();
    this.latencies.push(latencyMs);
  }

  /** The oldest grace period this worker waits for, and since when. */
  private oldestWait(): { cookie: number; since: number } | null {
    let best: { cookie: number; since: number } | null = null;
    const batch = this.batches[0];
    if (batch !== undefined) best = { cookie: batch.cookie, since: batch.startedMs };
    for (const [cookie, since] of this.kfreeSince) if (best === null || since < best.since) best = { cookie, since };
    return best;
  }

  private checkStall(now: number, waiting?: { cookie: number; since: number }): void {
    const oldest = waiting ?? this.oldestWait();
    const timeout = this.domain.stallTimeoutMs;
    if (oldest === null || now - oldest.since < timeout || now - this.lastStallAt < timeout) return;
    if (this.flavour.gpDone(oldest.cookie)) return;
    this.lastStallAt = now;
    const cpus = this.flavour.holders(oldest.cookie);
    const pending = this.kfree.pendingAll();
    const waitedMs = Math.round(now - oldest.since);
    const stall: RcuStall = {
      flavour: this.flavour.name,
      cookie: oldest.cookie,
      cpus,
      waitedMs,
      pending,
      message: `rcu: INFO: rcu_${this.flavour.name} detected stalls on CPUs/tasks: { ${cpus.join(' ')} } (detected by ${this.domain.cpu}, t=${waitedMs} ms, g=${oldest.cookie}, q=${pending.objects} objects / ${pending.bytes} bytes waiting)`,
    };
    if (this.stalls.length >= 64) this.stalls.shift();
    this.stalls.push(stall);
    this.options.onStall?.(stall);
  }

  /** Resolves after a full grace period (polling without blocking the thread); rejects after `timeoutMs`. */
  async synchronize(timeoutMs = Infinity): Promise<void> {
    const cookie = this.startGp();
    const start = performance.now();
    for (let round = 0; ; round++) {
      if (this.flavour.gpDone(cookie)) {
        this.completed(performance.now() - start);
        return;
      }
      const now = performance.now();
      this.checkStall(now, { cookie, since: start });
      if (now - start > timeoutMs) throw this.timedOut(cookie, timeoutMs);
      await new Promise((resolve) => (round < 16 ? setImmediate(resolve) : setTimeout(resolve, 1)));
    }
  }

  /** The error of a synchronize() whose grace period outlived `timeoutMs`: it names the CPUs still holding it. */
  private timedOut(cookie: number, timeoutMs: number): RcuTimeoutError {
    return new RcuTimeoutError(`synchronize (${this.flavour.name}): grace period ${cookie} still waits after ${timeoutMs} ms on CPUs { ${this.flavour.holders(cookie).join(' ')} }; expected every CPU to pass a quiescent state`);
  }

  /** synchronize() for a worker that may block: polls in place. */
  synchronizeBlocking(timeoutMs = 30_000): void {
    const cookie = this.startGp();
    const start = performance.now();
    for (;;) {
      for (let i = 0; i < SPIN_BETWEEN_CHECKS; i++) {
        if (this.flavour.gpDone(cookie)) {
          this.completed(performance.now() - start);
          return;
        }
      }
      const now = performance.now();
      this.checkStall(now, { cookie, since: start });
      if (now - start > timeoutMs) throw this.timedOut(cookie, timeoutMs);
    }
  }

  /** Polls until nothing of this worker waits (callbacks and kfree_rcu blocks), or throws after `timeoutMs`. */
  async drain(timeoutMs = 30_000): Promise<void> {
    const start = performance.now();
    while (this.next.length > 0 || this.batches.length > 0 || this.kfree.oldestCookie !== 0 || this.kfree.hasOpen) {
      this.poll();
      if (performance.now() - start > timeoutMs) throw new RcuTimeoutError(`rcu drain (${this.flavour.name}): work still waits after ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
  }

  stats(): RcuStats {
    const last = this.stalls[this.stalls.length - 1];
    return {
      flavour: this.flavour.name,
      counter: this.flavour.counter,
      gpStarted: this.gpStarted,
      gpCompleted: this.gpCompleted,
      callbacksPending: this.next.length + this.batches.reduce((n, b) => n + b.callbacks.length, 0),
      kfreePending: this.kfree.pendingAll(),
      kfreeFreed: this.kfreeFreed,
      stalls: this.stalls.length,
      lastStall: last?.message ?? null,
      gpLatencyMs: [...this.latencies],
    };
  }

  /** Every stall warning this worker raised (the last 64). */
  stallWarnings(): readonly RcuStall[] {
    return this.stalls;
  }
}
