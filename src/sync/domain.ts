/**
 * SyncDomain: one worker's view of the sync subsystem's arena block (layout in types.ts) — the CPU
 * table, the futex hash table, the lock table and the RCU globals — and the CPU this worker is
 * (the kernel's CPU slot, kernel.thisCpu(), unless given).
 *
 *   const sync = SyncDomain.create(kernel);                          // main thread
 *   worker.postMessage({ buffer: kernel.buffer, sync: sync.paddr });
 *   const same = SyncDomain.attach(Kernel.attach(buffer), paddr);   // in the worker
 *   const lock = same.mutex('zone');  lock.acquire(); … lock.release();
 *
 * A CPU is online from attach() until it is offlined: kernel.offlineCpu(cpu) (for a worker that
 * exited; the domain registers itself as one of the kernel's CPU-offline hooks), kernel.detach(),
 * or offlineCpu() here. Offlining takes back every lock that CPU held (the next holder
 * is told through the lock's recoveries and dead-owner fields, as a robust futex's
 * FUTEX_OWNER_DIED), removes its waiter records from the futex buckets, makes it quiescent for
 * both RCU flavours (so it holds up no grace period), and adopts its kfree_rcu blocks.
 */
import type { Kernel } from '../mm/kernel.ts';
import { GFP } from '../mm/gfp.ts';
import { PAGE_SHIFT, PAGE_SIZE } from '../machine/ram.ts';
import { InvariantError } from '../util/errors.ts';
import { SyncDomainError } from './errors.ts';
import { FutexTable } from './futex.ts';
import { LockStatsRecord, lockStatText, type LockStatValues } from './lock-stats.ts';
import type { KmemCache } from '../mm/slab/cache.ts';
import { recoverMutex } from './mutex.ts';
import { Mutex } from './mutex.ts';
import { Spinlock } from './spinlock.ts';
import { spinAcquire, spinRelease } from './spin-word.ts';
import {
  BUCKET_WORDS,
  CPU_KFREE_EPOCH,
  CPU_KFREE_QSBR,
  KB_COOKIE,
  KB_COUNT,
  KB_NEXT,
  KC_HEAD,
  KC_OBJECTS,
  KC_TAIL,
  KFREE_BLOCK_SLOTS,
  CPU_EPOCH,
  CPU_NESTING,
  CPU_QSBR,
  CPU_STATE,
  CPU_WORDS,
  CpuState,
  FUTEX_BUCKETS_PER_CPU,
  HEADER_WORDS,
  LOCK_NAME_BYTES,
  LOCK_STAT_COUNT,
  LOCK_WORDS,
  L_DEAD_OWNER,
  L_KIND,
  L_NAME,
  L_OWNER,
  L_PLACEMENT,
  L_RECOVERIES,
  L_SLEEPERS,
  L_SLEEPERS_MAX,
  L_STATS,
  L_WORD,
  LockKind,
  PLACEMENTS,
  Q_BYTES,
  Q_WORDS,
  SYNC_MAGIC,
  S_BUCKETS,
  S_CPUS,
  S_CPU_TABLE,
  S_EPOCH,
  S_LOCKS,
  S_MAGIC,
  S_MAX_LOCKS,
  S_NR_BUCKETS,
  S_NR_LOCKS,
  S_ORDER,
  S_QSBR_CTR,
  S_QSBR_DONE,
  S_STACK_Q,
  S_STALL_MS,
  S_TABLE_LOCK,
} from './types.ts';
import type { LockStatName, WaiterPlacement } from './types.ts';

export interface SyncOptions {
  /** The CPU the creating worker is. Default: its kernel CPU slot (kernel.thisCpu()). */
  cpu?: number;
  /** Slots in the lock table. Default 64. */
  maxLocks?: number;
  /** RCU stall warning after this many ms of one grace period (Linux: 21 s). Default 21 000. */
  stallTimeoutMs?: number;
}

export type LockStats = Record<LockStatName, number> & {
  name: string;
  kind: 'spin' | 'mutex';
  placement: WaiterPlacement;
  held: boolean;
  ownerCpu: number | null;
  sleepersNow: number;
  sleepersMax: number;
  recoveries: number;
  lastDeadOwnerCpu: number | null;
};

export interface LockRecovery {
  lock: string;
  kind: 'spin' | 'mutex';
  cpu: number;
  /** What happened and what it means, for a log line. */
  diagnosis: string;
}

export interface OfflineReport {
  cpu: number;
  recovered: LockRecovery[];
  /** Waiter records of the CPU taken out of futex buckets. */
  waitersRemoved: number;
  /** kfree_rcu objects adopted from its chain by the offlining CPU. */
  kfreeAdopted: number;
}

export type OfflineHook = (cpu: number, report: OfflineReport) => void;

const DEFAULT_MAX_LOCKS = 64;
const DEFAULT_STALL_MS = 21_000;
/** Table-lock spin limit: registration is short, so a long wait means a dead holder. */
const TABLE_LOCK_LIMIT_MS = 10_000;

function roundupPowerOfTwo(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

export class SyncDomain {
  readonly w: Int32Array;
  readonly f64: Float64Array;
  readonly shared: boolean;
  /** Word index of the domain's first word in `w`. */
  readonly base: number;
  readonly cpus: number;
  readonly nrBuckets: number;
  readonly maxLocks: number;
  readonly cpuTable: number;
  readonly stackQ: number;
  readonly buckets: number;
  readonly locks: number;
  readonly futex: FutexTable;
  private readonly hooks: OfflineHook[] = [];
  private readonly lockWrappers = new Map<string, Spinlock | Mutex>();
  private futexCache: KmemCache | null = null;
  /** The report of the last CPU this wrapper offlined (kernel.offlineCpu() returns nothing). */
  lastOffline: OfflineReport | null = null;

  private constructor(
    readonly kernel: Kernel,
    readonly paddr: number,
    readonly cpu: number,
  ) {
    const ram = kernel.ram;
    this.w = new Int32Array(ram.buffer);
    this.f64 = new Float64Array(ram.buffer);
    this.shared = ram.shared;
    this.base = paddr / 4;
    const at = (word: number): number => this.w[this.base + word] as number;
    if (at(S_MAGIC) !== SYNC_MAGIC) {
      throw new SyncDomainError(`no sync domain at 0x${paddr.toString(16)}: word 0 is 0x${(at(S_MAGIC) >>> 0).toString(16)}, expected 0x${SYNC_MAGIC.toString(16)} ('SYNC')`);
    }
    this.cpus = at(S_CPUS);
    this.nrBuckets = at(S_NR_BUCKETS);
    this.maxLocks = at(S_MAX_LOCKS);
    this.cpuTable = this.base + at(S_CPU_TABLE);
    this.stackQ = this.base + at(S_STACK_Q);
    this.buckets = this.base + at(S_BUCKETS);
    this.locks = this.base + at(S_LOCKS);
    if (!Number.isInteger(cpu) || cpu < 0 || cpu >= this.cpus) {
      throw new SyncDomainError(`CPU ${cpu}: expected an integer in [0, ${this.cpus}) (the kernel's possible CPUs)`);
    }
    this.futex = new FutexTable(this);
  }

  /** Bytes the domain takes for `cpus` CPUs and `maxLocks` locks, and its word offsets. */
  static layout(cpus: number, maxLocks: number): { words: number; cpuTable: number; stackQ: number; buckets: number; locks: number; nrBuckets: number } {
    const nrBuckets = roundupPowerOfTwo(FUTEX_BUCKETS_PER_CPU * cpus);
    const cpuTable = HEADER_WORDS;
    const stackQ = cpuTable + cpus * CPU_WORDS;
    const buckets = stackQ + cpus * Q_WORDS;
    const locks = buckets + nrBuckets * BUCKET_WORDS + ((buckets + nrBuckets * BUCKET_WORDS) % 2);
    return { words: locks + maxLocks * LOCK_WORDS, cpuTable, stackQ, buckets, locks, nrBuckets };
  }

  /** Takes the domain's pages from the page allocator, formats them and attaches as `options.cpu`. */
  static create(kernel: Kernel, options: SyncOptions = {}): SyncDomain {
    const cpus = kernel.cpus;
    const maxLocks = options.maxLocks ?? DEFAULT_MAX_LOCKS;
    if (!Number.isInteger(maxLocks) || maxLocks < 1 || maxLocks > 4096) {
      throw new SyncDomainError(`maxLocks ${maxLocks}: expected an integer in [1, 4096]`);
    }
    const layout = SyncDomain.layout(cpus, maxLocks);
    const pages = Math.ceil((layout.words * 4) / PAGE_SIZE);
    let order = 0;
    while (1 << order < pages) order++;
    const pfn = kernel.pages.allocPages(order, GFP.KERNEL | GFP.ZERO);
    if (pfn === null) throw new SyncDomainError(`sync domain: no free block of order ${order} (${pages} pages)`);
    const paddr = pfn << PAGE_SHIFT;
    const w = new Int32Array(kernel.ram.buffer, paddr, (PAGE_SIZE << order) / 4);
    w.fill(0);
    w[S_CPUS] = cpus;
    w[S_NR_BUCKETS] = layout.nrBuckets;
    w[S_MAX_LOCKS] = maxLocks;
    w[S_CPU_TABLE] = layout.cpuTable;
    w[S_STACK_Q] = layout.stackQ;
    w[S_BUCKETS] = layout.buckets;
    w[S_LOCKS] = layout.locks;
    w[S_ORDER] = order;
    w[S_QSBR_CTR] = 1;
    w[S_QSBR_DONE] = 1;
    w[S_EPOCH] = 1;
    w[S_STALL_MS] = options.stallTimeoutMs ?? DEFAULT_STALL_MS;
    kernel.createCache('futex_q', Q_BYTES);
    Atomics.store(w, S_MAGIC, SYNC_MAGIC);
    return SyncDomain.attach(kernel, paddr, options.cpu);
  }

  /**
   * The domain created at `paddr`, as CPU `cpu` (default: this thread's kernel CPU slot), which
   * goes online; kernel.offlineCpu() of any CPU offlines it here too.
   */
  static attach(kernel: Kernel, paddr: number, cpu: number = kernel.thisCpu()): SyncDomain {
    const domain = new SyncDomain(kernel, paddr, cpu);
    domain.online();
    kernel.onCpuOffline((gone) => domain.offlineCpu(gone));
    return domain;
  }

  /** Bytes of arena the domain holds (its pages). */
  get sizeBytes(): number {
    return PAGE_SIZE << this.header(S_ORDER);
  }

  header(word: number): number {
    return this.w[this.base + word] as number;
  }

  /** Word index of `cpu`'s line in the CPU table. */
  cpuWord(cpu: number, field: number): number {
    return this.cpuTable + cpu * CPU_WORDS + field;
  }

  cpuState(cpu: number): number {
    return Atomics.load(this.w, this.cpuWord(cpu, CPU_STATE));
  }

  isOffline(cpu: number): boolean {
    return this.cpuState(cpu) === CpuState.Offline;
  }

  /** The stall timeout, ms. */
  get stallTimeoutMs(): number {
    return this.header(S_STALL_MS);
  }

  set stallTimeoutMs(ms: number) {
    Atomics.store(this.w, this.base + S_STALL_MS, ms);
  }

  private online(): void {
    const word = this.cpuWord(this.cpu, CPU_STATE);
    const was = Atomics.exchange(this.w, word, CpuState.Online);
    if (was === CpuState.Online) {
      Atomics.store(this.w, word, was);
      throw new SyncDomainError(`CPU ${this.cpu} is already online in this sync domain: each worker attaches as a CPU of its own`);
    }
  }

  /** Runs `hook(cpu, report)` in this worker whenever it offlines a CPU (RCU adopts callbacks here). */
  onOffline(hook: OfflineHook): void {
    this.hooks.push(hook);
  }

  /**
   * Takes CPU `cpu` offline: its locks are recovered, its waiters removed, its RCU state made
   * quiescent, its kfree_rcu blocks adopted by this CPU. For a worker that has exited (or this
   * CPU, detaching: then its own blocks stay in its chain for a later adopter). Offlining an
   * offline CPU again finds nothing to do.
   */
  offlineCpu(cpu: number): OfflineReport {
    if (!Number.isInteger(cpu) || cpu < 0 || cpu >= this.cpus) throw new SyncDomainError(`CPU ${cpu}: expected an integer in [0, ${this.cpus})`);
    Atomics.store(this.w, this.cpuWord(cpu, CPU_STATE), CpuState.Offline);
    Atomics.store(this.w, this.cpuWord(cpu, CPU_QSBR), 0);
    Atomics.store(this.w, this.cpuWord(cpu, CPU_EPOCH), 0);
    Atomics.store(this.w, this.cpuWord(cpu, CPU_NESTING), 0);
    const report: OfflineReport = { cpu, recovered: [], waitersRemoved: 0, kfreeAdopted: 0 };
    report.waitersRemoved = this.futex.removeCpu(cpu);
    for (let index = 0; index < this.nrLocks; index++) {
      const recovery = this.recoverLock(index, cpu);
      if (recovery !== null) report.recovered.push(recovery);
    }
    if (cpu !== this.cpu) for (const hook of this.hooks) hook(cpu, report);
    this.lastOffline = report;
    return report;
  }

  /** Takes lock `index` back from `cpu` if it holds it; null if it did not. */
  recoverLock(index: number, cpu: number): LockRecovery | null {
    const rec = this.lockWord(index, 0);
    const kind = this.w[rec + L_KIND] as number;
    let sleepersWoken = 0;
    if (kind === LockKind.Spin) {
      if (Atomics.compareExchange(this.w, rec + L_WORD, cpu + 1, 0) !== cpu + 1) return null;
      Atomics.store(this.w, rec + L_OWNER, 0);
    } else if (kind === LockKind.Mutex) {
      const woken = recoverMutex(this, rec, cpu);
      if (woken < 0) return null;
      sleepersWoken = woken;
    } else {
      return null;
    }
    Atomics.add(this.w, rec + L_RECOVERIES, 1);
    Atomics.store(this.w, rec + L_DEAD_OWNER, cpu + 1);
    const name = this.lockName(index);
    const kindName = kind === LockKind.Spin ? 'spin' : 'mutex';
    return {
      lock: name,
      kind: kindName,
      cpu,
      diagnosis: `${kindName} '${name}' was held by CPU ${cpu} when it went offline: released by CPU ${this.cpu}${sleepersWoken > 0 ? `, a sleeping waiter woken` : ''}; the data it protects may be half-updated (as a robust futex's FUTEX_OWNER_DIED)`,
    };
  }

  get nrLocks(): number {
    return Atomics.load(this.w, this.base + S_NR_LOCKS);
  }

  /** Word index of field `field` of lock record `index`. */
  lockWord(index: number, field: number): number {
    return this.locks + index * LOCK_WORDS + field;
  }

  lockName(index: number): string {
    const bytes = new Uint8Array(this.w.buffer, this.lockWord(index, L_NAME) * 4, LOCK_NAME_BYTES);
    let name = '';
    for (const byte of bytes) {
      if (byte === 0) break;
      name += String.fromCharCode(byte);
    }
    return name;
  }

  findLock(name: string): number {
    for (let i = 0; i < this.nrLocks; i++) if (this.lockName(i) === name) return i;
    return -1;
  }

  /** The record of lock `name`, registering it (kind, placement) if no worker has yet. */
  registerLock(name: string, kind: number, placement: WaiterPlacement): number {
    if (name.length === 0 || name.length > LOCK_NAME_BYTES || !/^[\x20-\x7e]+$/.test(name)) {
      throw new SyncDomainError(`lock name '${name}': expected 1..${LOCK_NAME_BYTES} printable ASCII characters`);
    }
    const table = this.base + S_TABLE_LOCK;
    spinAcquire(this.w, table, this.cpu + 1, this.shared, TABLE_LOCK_LIMIT_MS, (o) => this.isOffline(o - 1), () => 'sync lock table');
    try {
      let index = this.findLock(name);
      if (index < 0) {
        index = this.nrLocks;
        if (index >= this.maxLocks) throw new SyncDomainError(`lock table full: ${this.maxLocks} locks; create the domain with a larger maxLocks`);
        const rec = this.lockWord(index, 0);
        this.w.fill(0, rec, rec + LOCK_WORDS);
        const bytes = new Uint8Array(this.w.buffer, this.lockWord(index, L_NAME) * 4, LOCK_NAME_BYTES);
        for (let i = 0; i < name.length; i++) bytes[i] = name.charCodeAt(i);
        this.w[rec + L_PLACEMENT] = PLACEMENTS.indexOf(placement);
        this.w[rec + L_KIND] = kind;
        Atomics.store(this.w, this.base + S_NR_LOCKS, index + 1);
      } else if (this.w[this.lockWord(index, L_KIND)] !== kind) {
        throw new SyncDomainError(`lock '${name}' exists as a ${this.w[this.lockWord(index, L_KIND)] === LockKind.Spin ? 'spinlock' : 'mutex'}: expected the same kind in every worker`);
      }
      return index;
    } finally {
      spinRelease(this.w, table, this.cpu + 1, () => 'sync lock table');
    }
  }

  /** A spinlock named `name` (the same lock in every worker of the domain). */
  spinlock(name: string): Spinlock {
    return this.wrapper(name, () => new Spinlock(this, this.registerLock(name, LockKind.Spin, 'stack'), name)) as Spinlock;
  }

  /** A futex mutex named `name` whose blocked waiters' records are placed as `placement`. */
  mutex(name: string, placement: WaiterPlacement = 'stack'): Mutex {
    return this.wrapper(name, () => new Mutex(this, this.registerLock(name, LockKind.Mutex, placement), name)) as Mutex;
  }

  private wrapper(name: string, make: () => Spinlock | Mutex): Spinlock | Mutex {
    let lock = this.lockWrappers.get(name);
    if (lock === undefined) {
      lock = make();
      this.lockWrappers.set(name, lock);
    }
    return lock;
  }

  /** The slab cache per-waiter records come from (placement 'slab'). */
  get futexQCache(): KmemCache {
    this.futexCache ??= this.kernel.slab.cache('futex_q');
    return this.futexCache;
  }

  lockStat(index: number, stat: number): number {
    return this.f64[this.lockWord(index, L_STATS) / 2 + stat] as number;
  }

  lockStats(index: number): LockStats {
    const rec = this.lockWord(index, 0);
    const owner = Atomics.load(this.w, rec + L_OWNER);
    const dead = this.w[rec + L_DEAD_OWNER] as number;
    const stats = {
      name: this.lockName(index),
      kind: this.w[rec + L_KIND] === LockKind.Spin ? 'spin' : 'mutex',
      placement: PLACEMENTS[this.w[rec + L_PLACEMENT] as number] ?? 'stack',
      held: Atomics.load(this.w, rec + L_WORD) !== 0,
      ownerCpu: owner === 0 ? null : owner - 1,
      sleepersNow: Atomics.load(this.w, rec + L_SLEEPERS),
      sleepersMax: this.w[rec + L_SLEEPERS_MAX] as number,
      recoveries: this.w[rec + L_RECOVERIES] as number,
      lastDeadOwnerCpu: dead === 0 ? null : dead - 1,
    } as LockStats;
    return Object.assign(stats, LockStatsRecord.ofLockRecord(this.f64, rec).values());
  }

  /** Every lock of the domain, then the kernel's own, as text in /proc/lock_stat's layout (lock-stats.ts). */
  lockStatText(): string {
    return lockStatText([...Array.from({ length: this.nrLocks }, (_, i) => this.lockStats(i)), ...this.kernel.lockStats()]);
  }

  /** Zeroes every lock's statistics (between runs of a scenario). */
  resetLockStats(): void {
    for (let i = 0; i < this.nrLocks; i++) {
      this.f64.fill(0, this.lockWord(i, L_STATS) / 2, this.lockWord(i, L_STATS) / 2 + LOCK_STAT_COUNT);
      this.w[this.lockWord(i, L_SLEEPERS_MAX)] = 0;
    }
  }

  stats(): {
    cpus: number;
    online: number[];
    offline: number[];
    futexBuckets: number;
    sizeBytes: number;
    qsbrCounter: number;
    epoch: number;
    locks: LockStats[];
    /** The kernel's own locks: the zone locks (statistics in 'zones.lockstat'), then the slab locks ('slab.lockstat'). */
    kernelLocks: ({ name: string } & LockStatValues)[];
  } {
    const online: number[] = [];
    const offline: number[] = [];
    for (let c = 0; c < this.cpus; c++) {
      const state = this.cpuState(c);
      if (state === CpuState.Online) online.push(c);
      else if (state === CpuState.Offline) offline.push(c);
    }
    return {
      cpus: this.cpus,
      online,
      offline,
      futexBuckets: this.nrBuckets,
      sizeBytes: this.sizeBytes,
      qsbrCounter: this.header(S_QSBR_CTR),
      epoch: this.header(S_EPOCH),
      locks: Array.from({ length: this.nrLocks }, (_, i) => this.lockStats(i)),
      kernelLocks: this.kernel.lockStats(),
    };
  }

  /** A CPU's kfree_rcu chain: it ends at its tail, its counts add up, only its last block may be open. */
  private validateKfreeChain(cpu: number, field: number): void {
    const w = this.w;
    const chain = this.cpuWord(cpu, field);
    let objects = 0;
    let last = 0;
    let blocks = 0;
    for (let block = w[chain + KC_HEAD] as number; block !== 0; block = w[block + KB_NEXT] as number) {
      if (++blocks > this.kernel.pages.nrPages) throw new InvariantError(`CPU ${cpu}: kfree_rcu chain does not end`);
      const count = w[block + KB_COUNT] as number;
      if (count < 0 || count > KFREE_BLOCK_SLOTS) throw new InvariantError(`CPU ${cpu}: kfree_rcu block at word ${block} holds ${count} entries, expected 0..${KFREE_BLOCK_SLOTS}`);
      if (w[block + KB_COOKIE] === 0 && w[block + KB_NEXT] !== 0) throw new InvariantError(`CPU ${cpu}: kfree_rcu block at word ${block} is open but not the last`);
      objects += count;
      last = block;
    }
    if (last !== w[chain + KC_TAIL]) throw new InvariantError(`CPU ${cpu}: kfree_rcu chain ends at word ${last}, its tail says ${w[chain + KC_TAIL]}`);
    if (objects !== w[chain + KC_OBJECTS]) throw new InvariantError(`CPU ${cpu}: kfree_rcu chain holds ${objects} entries, its count says ${w[chain + KC_OBJECTS]}`);
  }

  /** Checks the futex table, every lock record, every kfree_rcu chain and every offline CPU's RCU words. */
  validate(): void {
    this.futex.validate();
    for (let i = 0; i < this.nrLocks; i++) {
      const rec = this.lockWord(i, 0);
      const word = Atomics.load(this.w, rec + L_WORD);
      const owner = Atomics.load(this.w, rec + L_OWNER);
      const kind = this.w[rec + L_KIND];
      if (kind === LockKind.Mutex && (word < 0 || word > 2)) throw new InvariantError(`mutex '${this.lockName(i)}': word ${word}, expected 0, 1 or 2`);
      if (kind === LockKind.Spin && (word < 0 || word > this.cpus)) throw new InvariantError(`spinlock '${this.lockName(i)}': word ${word}, expected 0 or a cpu + 1 ≤ ${this.cpus}`);
      if (owner !== 0 && word === 0) throw new InvariantError(`lock '${this.lockName(i)}': owner CPU ${owner - 1} recorded but the lock is free`);
    }
    for (let c = 0; c < this.cpus; c++) {
      for (const chain of [CPU_KFREE_QSBR, CPU_KFREE_EPOCH]) this.validateKfreeChain(c, chain);
      if (this.cpuState(c) !== CpuState.Offline) continue;
      if (Atomics.load(this.w, this.cpuWord(c, CPU_QSBR)) !== 0 || Atomics.load(this.w, this.cpuWord(c, CPU_EPOCH)) !== 0) {
        throw new InvariantError(`CPU ${c} is offline but its RCU words are not 0: it would hold up grace periods`);
      }
    }
  }
}
